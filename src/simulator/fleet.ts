import type { NodeMetricsSnapshot } from '../model'

const DAY_MS = 86_400_000
const HOT_SPELL_MS = 10 * 60_000
const GiB = 1024 ** 3

/** A deterministic 0–1 value for a string, so a node keeps its character across runs. */
function unit(text: string): number {
  let hash = 2166136261
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619)
  return ((hash >>> 0) % 1_000_000) / 1_000_000
}

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value))
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits

/**
 * One simulated node with realistic, smoothly varying figures: a daily CPU cycle, memory that
 * breathes with it, disks that fill slowly, and now and then a hot spell (CPU and temperature up
 * for ten minutes). The same name and time always give the same snapshot.
 */
export class SimulatedNode {
  private readonly cores: number
  private readonly memTotal: number
  private readonly phase: number
  private readonly cpuBase: number
  private readonly diskStart: number

  constructor(readonly name: string) {
    const character = unit(name)
    this.cores = [2, 4, 8, 16, 32][Math.floor(character * 5)]!
    this.memTotal = this.cores * 4 * GiB
    this.phase = unit(`${name}/phase`)
    this.cpuBase = 10 + 30 * unit(`${name}/cpu`)
    this.diskStart = 20 + 50 * unit(`${name}/disk`)
  }

  snapshot(ts: number): NodeMetricsSnapshot {
    const day = Math.sin(2 * Math.PI * (ts / DAY_MS + this.phase))
    const wobble = Math.sin(ts / 97_000 + this.phase * 50) * 3 + Math.sin(ts / 13_000 + this.phase * 7) * 1.5
    const hot = unit(`${this.name}/${Math.floor(ts / HOT_SPELL_MS)}`) < 0.01
    const cpu = clamp(this.cpuBase + 20 * day + wobble + (hot ? 45 : 0), 0.5, 99.5)
    const mem = clamp(35 + 15 * day + wobble / 2 + 20 * unit(`${this.name}/mem`), 5, 97)
    const disk = clamp(this.diskStart + ((ts / DAY_MS) % 365) * 0.05, 1, 98)
    const temp = clamp(40 + cpu * 0.35 + (hot ? 15 : 0), 25, 105)
    const rx = Math.max(0, 2e6 * (1.2 + day) + wobble * 1e4)
    const tx = rx * 0.4
    const used = (mem / 100) * this.memTotal
    return {
      node_name: this.name,
      timestamp: ts,
      hostname: this.name,
      os: 'Ubuntu 24.04.1 LTS',
      kernel: '6.8.0-45-generic',
      uptime: Math.floor(ts / 1000) % 5_000_000,
      cpu: {
        usage_percent: round(cpu),
        user_percent: round(cpu * 0.7),
        system_percent: round(cpu * 0.25),
        idle_percent: round(100 - cpu),
        iowait_percent: round(cpu * 0.05),
        per_core: Array.from({ length: this.cores }, (_, core) => round(clamp(cpu + Math.sin(core + ts / 7_000) * 8, 0, 100))),
        load_1: round((cpu / 100) * this.cores),
        load_5: round((cpu / 100) * this.cores * 0.95),
        load_15: round((cpu / 100) * this.cores * 0.9),
        model: 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz',
        cores: this.cores,
        threads: this.cores * 2,
        frequency: 2000,
      },
      memory: {
        total: this.memTotal,
        used: Math.round(used),
        available: Math.round(this.memTotal - used),
        free: Math.round((this.memTotal - used) * 0.6),
        usage_percent: round(mem),
        cached: Math.round((this.memTotal - used) * 0.3),
        buffers: Math.round((this.memTotal - used) * 0.05),
        swap_total: 0,
        swap_used: 0,
        swap_free: 0,
        swap_percent: 0,
      },
      disks: [
        this.disk('/dev/nvme0n1p2', '/', 200 * GiB, disk, rx / 50),
        this.disk('/dev/nvme1n1', '/var/lib/containerd', 500 * GiB, clamp(disk * 1.1, 0, 99), rx / 20),
      ],
      networks: [
        this.nic('eth0', 'up', rx, tx),
        this.nic('cni0', 'up', rx * 0.3, tx * 0.3),
        this.nic('lo', 'unknown', 5e4, 5e4),
      ],
      temperature: {
        cpu_temp: round(temp, 1),
        cpu_temp_max: 100,
        sensors: [
          { name: 'coretemp', label: 'Package id 0', current: round(temp, 1), max: 100, critical: 105 },
          { name: 'nvme', label: 'Composite', current: round(temp - 8, 1), max: 85, critical: 90 },
        ],
      },
      processes: ['kubelet', 'containerd', 'java', 'node', 'postgres'].map((name, index) => ({
        pid: 1000 + index * 137,
        name,
        cmdline: `/usr/bin/${name} --config /etc/${name}/config.yaml`,
        user: index < 2 ? 'root' : 'app',
        status: 'S',
        cpu_percent: round((cpu * this.cores) / (index + 2) / 3),
        mem_percent: round(mem / (index + 3)),
        mem_rss: Math.round(used / (index + 3)),
        threads: 20 + index * 5,
        start_time: '2026-11-01T00:00:00Z',
      })),
      psi: { cpu: { some_avg10: round(cpu / 20), some_avg60: round(cpu / 25) } },
    }
  }

  private disk(device: string, mount: string, total: number, usage: number, rate: number) {
    const used = Math.round((usage / 100) * total)
    return {
      device, mount_point: mount, fs_type: 'ext4', total, used, available: total - used, usage_percent: round(usage),
      read_bytes: Math.round(rate * 1e5), write_bytes: Math.round(rate * 2e5), read_rate: round(rate), write_rate: round(rate * 2),
      read_iops: round(rate / 4096), write_iops: round(rate / 2048), io_util: round(clamp(rate / 1e5, 0, 100)),
    }
  }

  private nic(name: string, status: string, rx: number, tx: number) {
    return {
      interface: name, ip_address: name === 'lo' ? '127.0.0.1' : `10.${Math.floor(unit(this.name) * 250)}.0.${name.length}`,
      mac_address: '02:42:ac:11:00:02', status, speed: name === 'lo' ? undefined : 10000, mtu: 1500,
      rx_bytes: Math.round(rx * 1e4), tx_bytes: Math.round(tx * 1e4), rx_packets: Math.round(rx * 7), tx_packets: Math.round(tx * 7),
      rx_rate: round(rx), tx_rate: round(tx), rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0,
    }
  }
}

/** C clusters of N nodes each, named cluster-01 … and cluster-01-node-0001 … */
export function fleet(clusters: number, nodesPerCluster: number): { clusterId: string; nodes: SimulatedNode[] }[] {
  const width = String(clusters).length + 1
  return Array.from({ length: clusters }, (_, c) => {
    const clusterId = `cluster-${String(c + 1).padStart(width, '0')}`
    const nodeWidth = Math.max(4, String(nodesPerCluster).length)
    return {
      clusterId,
      nodes: Array.from({ length: nodesPerCluster }, (_, n) => new SimulatedNode(`${clusterId}-node-${String(n + 1).padStart(nodeWidth, '0')}`)),
    }
  })
}

export function clusterBody(clusterId: string, nodes: NodeMetricsSnapshot[]): string {
  return JSON.stringify({
    cluster_id: clusterId,
    fetched_at: new Date().toISOString(),
    pods: [],
    node_metrics: Object.fromEntries(nodes.map((node) => [node.node_name, node])),
  })
}

/** Builders for agent payloads in the wire format of docs/design.md §3. */

export interface NodeShape {
  cpu?: number
  mem?: number
  temp?: number
  cores?: number
  memTotal?: number
  memUsed?: number
  disks?: { mount_point: string; usage_percent: number }[]
  rx?: number
  tx?: number
}

export function nodeSnapshot(name: string, timestamp: number | string, shape: NodeShape = {}) {
  return {
    node_name: name,
    timestamp,
    hostname: `${name}.example`,
    os: 'Ubuntu 24.04',
    kernel: '6.8.0',
    uptime: 86_400,
    cpu: {
      usage_percent: shape.cpu ?? 10,
      user_percent: 6,
      system_percent: 4,
      idle_percent: 90,
      iowait_percent: 0,
      per_core: [10, 10],
      load_1: 0.5,
      load_5: 0.4,
      load_15: 0.3,
      model: 'Test CPU',
      cores: shape.cores ?? 2,
      threads: 4,
      frequency: 2400,
    },
    memory: {
      total: shape.memTotal ?? 8e9,
      used: shape.memUsed ?? 4e9,
      available: 4e9,
      free: 3e9,
      usage_percent: shape.mem ?? 50,
      cached: 5e8,
      buffers: 1e8,
      swap_total: 0,
      swap_used: 0,
      swap_free: 0,
      swap_percent: 0,
    },
    disks: (shape.disks ?? [{ mount_point: '/', usage_percent: 30 }]).map((disk, index) => ({
      device: `/dev/sd${'abcdefgh'[index]}`,
      fs_type: 'ext4',
      total: 1e11,
      used: disk.usage_percent * 1e9,
      available: (100 - disk.usage_percent) * 1e9,
      read_bytes: 1e6,
      write_bytes: 2e6,
      read_rate: 1000,
      write_rate: 2000,
      read_iops: 10,
      write_iops: 20,
      io_util: 5,
      ...disk,
    })),
    networks: [
      { interface: 'eth0', ip_address: '10.0.0.1', mac_address: '00:11:22:33:44:55', status: 'up', speed: 1000, mtu: 1500,
        rx_bytes: 1e9, tx_bytes: 5e8, rx_packets: 1e6, tx_packets: 5e5, rx_rate: shape.rx ?? 1000, tx_rate: shape.tx ?? 500,
        rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 },
      { interface: 'lo', status: 'up', rx_rate: 99_999, tx_rate: 99_999 },
      { interface: 'eth1', status: 'down', rx_rate: 77_777, tx_rate: 77_777 },
    ],
    temperature: {
      cpu_temp: shape.temp ?? 50,
      cpu_temp_max: 100,
      sensors: [{ name: 'coretemp', label: 'Package id 0', current: shape.temp ?? 50, max: 100, critical: 105 }],
    },
    processes: [
      { pid: 1, name: 'systemd', cmdline: '/sbin/init', user: 'root', status: 'S', cpu_percent: 0.1, mem_percent: 0.2,
        mem_rss: 1e7, threads: 1, start_time: '2026-11-01T00:00:00Z' },
    ],
    psi: { cpu_some_avg10: 0.5 },
  }
}

export function clusterSnapshot(clusterId: string | undefined, nodes: ReturnType<typeof nodeSnapshot>[]) {
  return {
    ...(clusterId === undefined ? {} : { cluster_id: clusterId }),
    fetched_at: new Date().toISOString(),
    pods: [{ name: 'web-1', namespace: 'default' }],
    deployments: [],
    node_metrics: Object.fromEntries(nodes.map((node) => [node.node_name, node])),
  }
}

/** `count` nodes named prefix0, prefix1, … at `ts`, each with its own CPU figure. */
export const numberedNodes = (count: number, ts: number, prefix = 'n') =>
  Array.from({ length: count }, (_, index) => nodeSnapshot(`${prefix}${index}`, ts, { cpu: index % 100 }))

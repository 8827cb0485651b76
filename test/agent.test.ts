import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { NodeCollector } from '../src/agent/collector'
import { hostAt, type Host } from '../src/agent/host'
import { parseCpuinfo, parseMeminfo, parseMounts, parseNetDev, parseProcessStat, parseStat } from '../src/agent/procfs'
import { rate } from '../src/agent/rates'
import { getJson, useMaster } from './support/master'

// Real servers, Workers and processes: bun's 5 s per test is too short on a busy CI machine.
setDefaultTimeout(30_000)

const FIXTURES = join(import.meta.dir, 'fixtures/host')
const fixture = (sample: 't0' | 't1', path: string) => readFileSync(join(FIXTURES, sample, path), 'utf8')

describe('parsers on copies of real /proc files', () => {
  test('/proc/stat', () => {
    const { total, cores } = parseStat(fixture('t0', 'proc/stat'))
    expect(total).toEqual({ user: 23136, nice: 0, system: 10863, idle: 179246, iowait: 313, irq: 0, softirq: 589, steal: 0 })
    expect(cores).toHaveLength(2)
  })

  test('/proc/cpuinfo, /proc/meminfo, /proc/mounts, /proc/net/dev, /proc/[pid]/stat', () => {
    expect(parseCpuinfo(fixture('t0', 'proc/cpuinfo'))).toEqual({ model: 'AMD EPYC', threads: 2, cores: 2, frequency: 2096.001 })
    const memTotalKb = Number(/^MemTotal:\s+(\d+) kB$/m.exec(fixture('t0', 'proc/meminfo'))![1])
    expect(parseMeminfo(fixture('t0', 'proc/meminfo')).MemTotal).toBe(memTotalKb * 1024)
    // Only block-device file systems, each once: not proc, tmpfs, cgroup, overlay of the sandbox.
    expect(parseMounts(fixture('t0', 'proc/mounts'))).toEqual([{ device: '/dev/vda', mount_point: '/', fs_type: 'ext4' }])
    expect(parseNetDev(fixture('t0', 'proc/net/dev')).get('eth0')).toMatchObject({ rxBytes: 108778564, txBytes: 270341, rxPackets: 3701 })
    expect(parseProcessStat('42 (a (weird) name) S 1 2 3 4 5 6 7 8 9 10 300 200 0 0 20 0 7 0 5000 100 250 0'))
      .toEqual({ pid: 42, name: 'a (weird) name', state: 'S', cpuTicks: 500, threads: 7, startTicks: 5000, rssPages: 250 })
  })

  test('a counter that went backwards gives no rate, never a negative one', () => {
    expect(rate(100, 50, 5)).toBeUndefined()
    expect(rate(undefined, 50, 5)).toBeUndefined()
    expect(rate(100, 600, 5)).toBe(100)
    expect(rate(100, 600, 0)).toBeUndefined()
  })
})

describe('collector on fixture samples 5 s apart', () => {
  let current = hostAt(join(FIXTURES, 't0'))
  const host: Host = {
    read: (path) => current.read(path),
    exists: (path) => current.exists(path),
    list: (dir) => current.list(dir),
    statfs: (mount) => current.statfs(mount),
    addresses: () => current.addresses(),
  }
  const collector = new NodeCollector(host, 'node-a')
  const first = collector.collect(1_795_000_000_000)
  current = hostAt(join(FIXTURES, 't1'))
  const second = collector.collect(1_795_000_005_000)

  test('the first sample reports no rates', () => {
    expect(first.cpu?.usage_percent).toBeUndefined()
    expect(first.cpu?.per_core).toBeUndefined()
    expect(first.networks?.every((nic) => nic.rx_rate === undefined && nic.tx_rate === undefined)).toBe(true)
    expect(first.disks?.[0]?.read_rate).toBeUndefined()
    expect(first.processes?.every((process) => process.cpu_percent === undefined)).toBe(true)
    expect(first.memory?.total).toBeGreaterThan(0)
  })

  test('CPU from counter deltas, total and per core', () => {
    expect(second.cpu).toMatchObject({ usage_percent: 15, user_percent: 10, system_percent: 5, idle_percent: 85, iowait_percent: 0 })
    expect(second.cpu?.per_core).toEqual([15, 15])
  })

  test('network: the reset rx counter has no rate this interval, tx does', () => {
    const eth0 = second.networks!.find((nic) => nic.interface === 'eth0')!
    expect(eth0).toMatchObject({ status: 'up', speed: 10000, mtu: 1400, tx_rate: 1000, physical: true })
    expect(second.networks!.find((nic) => nic.interface === 'lo')!.physical).toBe(false)
    expect(eth0.rx_rate).toBeUndefined()
  })

  test('disk: read rate and IOPS from deltas, the reset write counter has no rate, utilisation', () => {
    const vda = second.disks![0]!
    expect(vda).toMatchObject({ device: '/dev/vda', mount_point: '/', read_rate: 204800, read_iops: 20, io_util: 50 })
    expect(vda.write_rate).toBeUndefined()
    expect(vda.usage_percent).toBeGreaterThan(0)
  })

  test('temperatures, processes, pressure, identity', () => {
    expect(second.temperature).toEqual({
      cpu_temp: 54,
      cpu_temp_max: 100,
      sensors: [
        { name: 'coretemp', label: 'Package id 0', current: 54, max: 100, critical: 105 },
        { name: 'coretemp', current: 51 },
        { name: 'acpitz', label: 'thermal_zone0', current: 48 },
      ],
    })
    expect(second.processes![0]).toMatchObject({ pid: 1, name: 'process_api', cpu_percent: 10, user: 'root' })
    expect(Object.keys(second.psi!)).toEqual(['cpu', 'memory', 'io'])
    expect(second).toMatchObject({ node_name: 'node-a', hostname: 'node-a', timestamp: 1_795_000_005_000 })
  })
})

describe('bun run agent against a real master', () => {
  const master = useMaster()

  test("this machine's node appears with plausible values", async () => {
    const agent = Bun.spawn(
      ['bun', 'run', 'src/agent/cli.ts', '--master', master.ingest, '--cluster', 'here', '--node', 'this-node', '--interval', '300ms'],
      { cwd: join(import.meta.dir, '..'), stdout: 'pipe', stderr: 'pipe' },
    )
    try {
      let node: any
      const deadline = Date.now() + 10_000
      while (Date.now() < deadline) {
        const { status, body } = await getJson(`${master.api}/api/v2/clusters/here/node-metrics/this-node`)
        if (status === 200 && body.cpu?.usage_percent !== undefined) {
          node = body
          break
        }
        await Bun.sleep(100)
      }
      expect(node).toBeDefined()
      expect(node.cpu.usage_percent).toBeGreaterThanOrEqual(0)
      expect(node.cpu.usage_percent).toBeLessThanOrEqual(100)
      const memTotalKb = Number(/^MemTotal:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1])
      expect(node.memory.total).toBe(memTotalKb * 1024)
      expect(node.cpu.cores).toBeGreaterThan(0)
      expect(node.networks.length).toBeGreaterThan(0)
      const { body: list } = await getJson(`${master.api}/api/v2/clusters/here/node-metrics`)
      expect(list.summary.metrics_nodes).toBe(1)
      expect(list.summary.total_mem_bytes).toBe(memTotalKb * 1024)
    } finally {
      agent.kill('SIGTERM')
      await agent.exited
    }
  })
})

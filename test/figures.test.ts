import { describe, expect, test } from 'bun:test'
import { deriveFigures } from '../src/figures/derive'
import { DEFAULT_NET_EXCLUDE } from '../src/figures/network'
import type { NodeMetricsSnapshot } from '../src/model'
import { FIGURES } from '../src/model/figures'

const DEFAULTS = { netExclude: new RegExp(DEFAULT_NET_EXCLUDE) }
type Node = Omit<NodeMetricsSnapshot, 'node_name' | 'timestamp'>
const derive = (node: Node, settings = DEFAULTS) => deriveFigures({ node_name: 'n', timestamp: 0, ...node } as NodeMetricsSnapshot, settings)
/** The registry's figures by API field. */
const figures = (node: Node, settings = DEFAULTS) => {
  const { values } = derive(node, settings)
  return Object.fromEntries(FIGURES.map((figure, index) => [figure.field, values[index]]))
}
const nic = (name: string, rx: number, extra: Record<string, unknown> = {}) => ({ interface: name, status: 'up', rx_rate: rx, tx_rate: rx / 10, ...extra })

describe('missing is null, never 0', () => {
  test('a node with no groups has no figures and nothing dropped', () => {
    expect(derive({})).toEqual({
      values: FIGURES.map(() => null),
      extras: { cores: null, memTotal: null, memUsed: null, diskMax: null, diskMaxMount: null, diskTotal: null, diskUsed: null },
      dropped: [],
    })
  })

  test("Go's zero values that mean \"not read\": a first sample's CPU, a VM's temperature, an unread disk", () => {
    // AtlHyper's first sample after a restart: the CPU group all zeros, per_core null.
    const first = figures({ cpu: { usage_percent: 0, idle_percent: 0, user_percent: 0, per_core: null, load_1: 0, cores: 0 } })
    expect(first).toMatchObject({ cpu_usage: null, load_1: null })
    expect(derive({ cpu: { usage_percent: 0, idle_percent: 0, cores: 0 } }).extras.cores).toBeNull()
    // A measured idle CPU is 0 % busy, and a measured idle machine has load 0; so is a bare usage of 0.
    expect(figures({ cpu: { usage_percent: 0, idle_percent: 100, load_1: 0 } })).toMatchObject({ cpu_usage: 0, load_1: 0 })
    expect(figures({ cpu: { usage_percent: 0 } }).cpu_usage).toBe(0)
    // model_v3 has no idle: its unmeasured CPU is usage, user, system and iowait all 0.
    expect(figures({ cpu: { usage_percent: 0, user_percent: 0, system_percent: 0, iowait_percent: 0, load_1: 1.5 } })).toMatchObject({ cpu_usage: null, load_1: 1.5 })
    expect(figures({ temperature: { cpu_temp: 0, cpu_temp_max: 0, sensors: null } }).temperature).toBeNull()
    expect(figures({ memory: { total: 0, used: 0, usage_percent: 0 } }).mem_usage).toBeNull()
    // An I/O-only device the node_exporter agent lists: no size, so no usage, but its I/O is real.
    expect(figures({ disks: [{ device: 'nvme0n1', total: 0, usage_percent: 0, read_rate: 5e6 }] })).toMatchObject({ disk_usage: null, disk_read_bytes_ps: 5e6 })
  })
})

describe('disks', () => {
  test('the primary disk is "/" else the first; the fullest is any measured disk', () => {
    const { values, extras } = derive({
      disks: [
        { mount_point: '/boot', usage_percent: 90, total: 1e9, used: 9e8 },
        { mount_point: '/', usage_percent: 20, total: 1e11, used: 2e10, read_rate: 7, write_rate: 9 },
        { device: 'sdb', total: 0, usage_percent: 0 },
      ],
    })
    expect(values.slice(2, 3)).toEqual([20])
    expect(extras).toMatchObject({ diskMax: 90, diskMaxMount: '/boot', diskTotal: 1e11, diskUsed: 2e10 })
    expect(figures({ disks: [{ mount_point: '/var', usage_percent: 7 }] }).disk_usage).toBe(7)
  })
})

describe("the primary disk's I/O is its block device's, wherever the agent reports it", () => {
  const io = (disks: Node['disks']) => {
    const all = figures({ disks })
    return [all.disk_usage, all.disk_read_bytes_ps, all.disk_write_bytes_ps]
  }

  test('a partition that reports its own I/O (counters since boot, rates) is its own source', () => {
    expect(io([{ device: '/dev/sda2', mount_point: '/', total: 1e9, usage_percent: 40, read_bytes: 5e9, write_bytes: 7e9, read_rate: 0, write_rate: 0 },
      { device: 'sda', total: 0, read_rate: 999, write_rate: 999 }])).toEqual([40, 0, 0])
  })

  test("model_v3: the disk's I/O on an entry of its own (no mount, size 0)", () => {
    expect(io([{ device: '/dev/nvme0n1p2', mount_point: '/', total: 1e9, usage_percent: 31, read_rate: 0, write_rate: 0 },
      { device: '/dev/nvme0n1p1', mount_point: '/boot/efi', total: 1e6, usage_percent: 1, read_rate: 0, write_rate: 0 },
      { device: 'nvme0n1', mount_point: '', total: 0, usage_percent: 0, read_rate: 32_768, write_rate: 524_288 }])).toEqual([31, 32_768, 524_288])
  })

  test("the node_exporter-fed agent: the disk's I/O on its first partition", () => {
    expect(io([{ device: '/dev/sda1', mount_point: '/boot/efi', total: 1e6, usage_percent: 1, read_bytes: 4e9, read_rate: 163_830, write_rate: 1_223_267 },
      { device: '/dev/sda2', mount_point: '/', total: 1e9, usage_percent: 31, read_bytes: 0, write_bytes: 0, read_rate: 0, write_rate: 0 },
      { device: 'sdb', mount_point: '', total: 0, read_rate: 52_425, write_rate: 2_097_029 }])).toEqual([31, 163_830, 1_223_267])
  })

  test('without an entry that carries I/O for the device, the primary entry stands', () => {
    expect(io([{ device: '/dev/vda1', mount_point: '/', total: 1e9, usage_percent: 50, read_rate: 0, write_rate: 0 }])).toEqual([50, 0, 0])
  })
})

describe('the network rate of a node is its physical interfaces', () => {
  test('virtual interfaces of a Kubernetes node are left out by the default pattern', () => {
    const virtual = ['lo', 'veth1a2b3c', 'cni0', 'cali12345', 'flannel.1', 'cilium_host', 'cilium_vxlan', 'docker0', 'br-0f1e2d',
      'virbr0', 'tunl0', 'vxlan.calico', 'kube-ipvs0', 'nodelocaldns', 'lxc8f7e', 'genev_sys_6081', 'wg0', 'weave', 'eth0.100',
      // managed clusters' pod interfaces, kubenet, host bridges, and other overlays
      'eni1a2b3c4d5e6', 'azv1234abcd', 'azure0', 'gke12ab34cd', 'cbr0', 'br0', 'vmbr0', 'wireguard.cali', 'ovn-k8s-mp0',
      'kube-dummy-if', 'vlan100', 'podman0', 'nerdctl0', 'tailscale0', 'zt5u4y6kq3', 'gre0', 'gretap0', 'ipip0', 'sit0', 'ip6tnl0',
      'erspan0', 'ip_vti0', 'lxdbr0', 'macvtap0', 'macvlan1', 'ipvlan0']
    const node = { networks: [nic('enp1s0', 1000), ...virtual.map((name) => nic(name, 1e6)), nic('ens5', 500)] }
    expect(figures(node)).toMatchObject({ net_rx_bytes_ps: 1500, net_tx_bytes_ps: 150 })
  })

  test('a bond is left out and its slaves are counted; down interfaces are not; an empty status counts', () => {
    const node = {
      networks: [nic('bond0', 3000), nic('eno1', 1000), nic('eno2', 2000), nic('eno3', 9999, { status: 'down' }), nic('eno4', 5, { status: '' }),
        nic('eno5', 6, { status: undefined }), nic('eno6', 7, { status: 'UP' })],
    }
    expect(figures(node).net_rx_bytes_ps).toBe(1000 + 2000 + 5 + 6 + 7)
  })

  test('a counted interface without a rate (new, or its counter reset) leaves the sum missing, not partial', () => {
    const { networks } = { networks: [nic('eth0', 1000), { interface: 'eth1', status: 'up' }] }
    expect(figures({ networks })).toMatchObject({ net_rx_bytes_ps: null, net_tx_bytes_ps: null })
    expect(derive({ networks }).dropped).toEqual([]) // missing is not out of range
    expect(figures({ networks: [{ interface: 'eth0', status: 'up' }] }).net_rx_bytes_ps).toBeNull()
  })

  test("an agent that marks interfaces is believed: physical false is left out whatever its name", () => {
    expect(figures({ networks: [nic('eth0', 10, { physical: true }), nic('eth1', 20, { physical: false })] }).net_rx_bytes_ps).toBe(10)
  })

  test("when nothing is left, AtlHyper's pick: the first up interface that is not lo, else the first", () => {
    expect(figures({ networks: [nic('lo', 1), nic('cni0', 2), nic('flannel.1', 3)] }).net_rx_bytes_ps).toBe(2)
    expect(figures({ networks: [nic('lo', 1, { status: 'down' })] }).net_rx_bytes_ps).toBe(1)
    expect(figures({ networks: [] }).net_rx_bytes_ps).toBeNull()
  })

  test('NET_EXCLUDE replaces the pattern', () => {
    const node = { networks: [nic('eth0', 10), nic('storage0', 20), nic('cni0', 40)] }
    expect(figures(node, { netExclude: /^(storage|lo)/ }).net_rx_bytes_ps).toBe(50)
  })
})

describe('values out of their physical range are dropped, named, and never stored as figures', () => {
  test('each reason, with its path under the node and its field', () => {
    const { values, extras, dropped } = derive({
      cpu: { usage_percent: 180, idle_percent: 0, load_1: -1, cores: 8.5 },
      memory: { total: 2 * 2 ** 30, used: -123_456_789, usage_percent: -5.7 },
      temperature: { cpu_temp: 65261.85 },
      disks: [{ mount_point: '/', total: 1e11, used: 5e10, usage_percent: 50, read_rate: Infinity, write_rate: 2e12 }],
    })
    expect(values).toEqual(FIGURES.map((figure) => (figure.field === 'disk_usage' ? 50 : null)))
    expect(extras).toMatchObject({ cores: null, memTotal: 2 * 2 ** 30, memUsed: null, diskMax: 50 })
    expect(dropped).toEqual([
      { path: '/cpu/usage_percent', field: 'cpu.usage_percent', reason: 'out_of_range' },
      { path: '/memory/usage_percent', field: 'memory.usage_percent', reason: 'negative' },
      { path: '/temperature/cpu_temp', field: 'temperature.cpu_temp', reason: 'out_of_range' },
      { path: '/disks/0/read_rate', field: 'disks.read_rate', reason: 'not_finite' },
      { path: '/disks/0/write_rate', field: 'disks.write_rate', reason: 'above_bound' },
      { path: '/cpu/load_1', field: 'cpu.load_1', reason: 'negative' },
      { path: '/cpu/cores', field: 'cpu.cores', reason: 'not_an_integer' },
      { path: '/memory/used', field: 'memory.used', reason: 'negative' },
    ])
  })

  test('one interface past its bound drops the node rate for that sample: a partial sum would read as true', () => {
    // A counter reset read as unsigned: ~1.8e18 B/s on a 10 Gbit/s link; the other interface is fine.
    const { values, dropped } = derive({ networks: [nic('enp1s0', 1.8446744073709552e18, { speed: 10_000 }), nic('enp2s0', 1000)] })
    expect(values[FIGURES.findIndex((figure) => figure.field === 'net_rx_bytes_ps')]).toBeNull()
    expect(values[FIGURES.findIndex((figure) => figure.field === 'net_tx_bytes_ps')]).toBeNull() // its tx is 1.8e17 too
    expect(dropped).toContainEqual({ path: '/networks/0/rx_rate', field: 'networks.rx_rate', reason: 'above_link_speed' })
  })

  test('a rate may reach twice the link speed; above it, or above 10^12 B/s without a known speed, it is dropped', () => {
    const gigabit = (rx: number) => derive({ networks: [nic('eth0', rx, { speed: 1000, tx_rate: 0 })] })
    expect(gigabit(250e6).values[4]).toBe(250e6)
    expect(gigabit(250e6 + 1).dropped).toEqual([{ path: '/networks/0/rx_rate', field: 'networks.rx_rate', reason: 'above_link_speed' }])
    expect(derive({ networks: [nic('eth0', 1e12, { tx_rate: 0 })] }).values[4]).toBe(1e12)
    expect(derive({ networks: [nic('eth0', 1.1e12, { tx_rate: 0 })] }).dropped[0]!.reason).toBe('above_bound')
  })

  test('bounds are the physical ranges: 0–100 %, −60…200 °C', () => {
    expect(figures({ cpu: { usage_percent: 100, idle_percent: 0 }, temperature: { cpu_temp: -60 } })).toMatchObject({ cpu_usage: 100, temperature: -60 })
    expect(figures({ temperature: { cpu_temp: 200.1 } }).temperature).toBeNull()
    expect(figures({ temperature: { cpu_temp: -60.1 } }).temperature).toBeNull()
  })
})

import type { NodeMetricsSnapshot } from '../model'

type Nic = NonNullable<NodeMetricsSnapshot['networks']>[number]

/**
 * Interfaces whose traffic is already counted on a physical one:
 * - loopback, pod veths and bridges: veth*, cni*, cali*, flannel.*, cilium_*, docker*, br-*, br0,
 *   cbr0 (kubenet), virbr*, vmbr* (Proxmox), lxc*, lxdbr*, podman*, nerdctl*, and the managed clusters'
 *   pod interfaces: eni* (EKS), azv* and azure* (AKS), gke* (GKE);
 * - overlays and tunnels: vxlan*, genev*, tunl*, tun*, tap*, wg* and wireguard.*, tailscale*, zt*
 *   (ZeroTier), gre*, ipip*, sit*, ip6tnl* and ip6gre*, erspan*, ip_vti*, weave, ovn-k8s*, ovs-*,
 *   antrea*, kube-ipvs*, kube-dummy-if, nodelocaldns, dummy*, macvlan/macvtap/ipvlan children;
 * - aggregates of physical links: bonds and teams (their slaves are counted) and VLAN
 *   sub-interfaces (eth0.100, counted on eth0; vlan100).
 * NET_EXCLUDE replaces this pattern.
 */
export const DEFAULT_NET_EXCLUDE =
  '^(lo|veth|cni|cali|flannel|cilium|docker|br-|br\\d|cbr|virbr|vmbr|lxc|lxd|podman|nerdctl|eni|azv|azure|gke|vnet|vxlan|genev|tunl|tun|tap|wg|wireguard|tailscale|zt|gre|ipip|sit|ip6|erspan|ip_vti|weave|datapath|ovn|ovs-|antrea|kube-ipvs|kube-bridge|kube-dummy|nodelocaldns|dummy|macv|ipvl|bond|team|vlan)|\\.\\d+$'

const isUp = (nic: Nic) => nic.status === undefined || nic.status === null || nic.status === '' || nic.status.toLowerCase() === 'up'

/**
 * The interfaces a node's network rate is summed over: up (or of no stated status) and physical.
 * An agent that says `physical: false` (ours reads /sys/class/net/X/device) is believed; either
 * way a name matching the pattern is left out. When nothing is left, AtlHyper's own pick: the
 * first interface that is up and not "lo", else the first one.
 */
export function physicalNics(nics: readonly Nic[], exclude: RegExp): { nic: Nic; index: number }[] {
  const counted = nics
    .map((nic, index) => ({ nic, index }))
    .filter(({ nic }) => isUp(nic) && nic.physical !== false && !exclude.test(nic.interface ?? ''))
  if (counted.length > 0 || nics.length === 0) return counted
  const primary = nics.findIndex((nic) => nic.status === 'up' && nic.interface !== 'lo')
  const index = primary >= 0 ? primary : 0
  return [{ nic: nics[index]!, index }]
}

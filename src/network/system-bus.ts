/**
 * What NetworkManager and UPower say, followed on the system bus: NetworkManager's State,
 * Connectivity and Metered (as policy/network.ts's ManagerView) and UPower's OnBattery. Each is
 * null while its service, or the bus, is not there; the daemon then goes by the kernel's view.
 */
import type { ManagerView } from '../policy/network.js';
import { type BusWatch, watchProperties, type WatchOptions } from './property-watch.js';
import type { DBusValue } from './dbus/signature.js';

export type { BusWatch, WatchLog, WatchOptions } from './property-watch.js';

/** org.freedesktop.NetworkManager at /org/freedesktop/NetworkManager. */
export function watchNetworkManager(options: WatchOptions = {}): Promise<BusWatch<ManagerView | null>> {
  return watchProperties<ManagerView>(
    {
      service: 'org.freedesktop.NetworkManager',
      path: '/org/freedesktop/NetworkManager',
      iface: 'org.freedesktop.NetworkManager',
      name: 'NetworkManager',
      fallback: "using the kernel's view",
      view: managerView,
      equal: (a, b) => a.state === b.state && a.connectivity === b.connectivity && a.metered === b.metered,
    },
    options,
  );
}

/** org.freedesktop.UPower at /org/freedesktop/UPower: OnBattery. */
export function watchUPower(options: WatchOptions = {}): Promise<BusWatch<boolean | null>> {
  return watchProperties<boolean>(
    {
      service: 'org.freedesktop.UPower',
      path: '/org/freedesktop/UPower',
      iface: 'org.freedesktop.UPower',
      name: 'UPower',
      fallback: 'power source unknown (taken as mains)',
      view: (props) => {
        const onBattery = props.get('OnBattery');
        return typeof onBattery === 'boolean' ? onBattery : null;
      },
      equal: (a, b) => a === b,
    },
    options,
  );
}

/**
 * State is required (without it the object is not NetworkManager as bitsd knows it); a missing
 * Connectivity or Metered (older versions) reads as 0, "unknown".
 */
export function managerView(props: ReadonlyMap<string, DBusValue>): ManagerView | null {
  const state = props.get('State');
  if (typeof state !== 'number') return null;
  const numberOr0 = (value: DBusValue | undefined): number => (typeof value === 'number' ? value : 0);
  return { state, connectivity: numberOr0(props.get('Connectivity')), metered: numberOr0(props.get('Metered')) };
}

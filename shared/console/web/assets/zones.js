// IANA time zones for the selects of the settings and schedules screens.

/** timeZones lists IANA zones for a select, with UTC always present. */
export function timeZones() {
  let zones = [];
  try {
    zones = Intl.supportedValuesOf('timeZone');
  } catch {
    zones = ['UTC', 'Europe/London', 'America/New_York', 'America/Chicago', 'America/Denver', 'America/Los_Angeles'];
  }
  if (!zones.includes('UTC')) zones = ['UTC', ...zones];
  return zones;
}

/** zoneOptions are the select options of timeZones, with value kept if unlisted. */
export function zoneOptions(value) {
  const zones = timeZones();
  if (value && !zones.includes(value)) zones.unshift(value);
  return zones.map((z) => ({ value: z, label: z.replace(/_/g, ' ') }));
}

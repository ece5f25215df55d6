import { PROFILES } from '../control/profiles.js';

/**
 * `oci-test-registry --profiles`: one line per profile (name, what it
 * mimics, how many sourced behaviours), for a shell loop or a person.
 */
export function profileList(): string {
  const width = Math.max(...Object.keys(PROFILES).map((name) => name.length));
  return Object.entries(PROFILES)
    .map(([name, profile]) => {
      const count = Object.keys(profile.behaviours).length;
      return `${name.padEnd(width)}  ${profile.description} (${count} sourced behaviour${count === 1 ? '' : 's'})\n`;
    })
    .join('');
}

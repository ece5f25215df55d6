// Writing and reading OCI image layouts (image-spec image-layout.md) for
// tests, with nothing from src/: what the tests compare against must not be
// produced by the code under test.
import { sha256 } from './digest.js';
import { OCI_CONFIG, OCI_EMPTY, OCI_INDEX, OCI_LAYER_TAR, OCI_MANIFEST } from './media-types.js';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

export const REF_NAME = 'org.opencontainers.image.ref.name';
export { OCI_CONFIG, OCI_EMPTY, OCI_INDEX, OCI_LAYER_TAR, OCI_MANIFEST } from './media-types.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  [key: string]: unknown;
}

/** Builds a layout in memory (blobs and index.json entries), then writes it. */
export class LayoutBuilder {
  /** digest → bytes of every blob file the layout will hold. */
  readonly blobs = new Map<string, Buffer>();
  /** index.json entries, in order. */
  readonly entries: Descriptor[] = [];

  /** Adds a blob file and returns its descriptor. */
  blob(bytes: Buffer | string, mediaType = OCI_LAYER_TAR): Descriptor {
    const buffer = Buffer.from(bytes);
    const digest = sha256(buffer);
    this.blobs.set(digest, buffer);
    return { mediaType, digest, size: buffer.length };
  }

  /** Adds config, layers and an OCI image manifest; returns the manifest's descriptor and bytes. */
  image(options: { layers?: string[]; config?: object; extra?: Record<string, unknown> } = {}): Descriptor & { bytes: Buffer } {
    const config = this.blob(JSON.stringify(options.config ?? { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }), OCI_CONFIG);
    const layers = (options.layers ?? ['a layer']).map((layer) => this.blob(layer));
    return this.manifest({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers, ...options.extra });
  }

  /** Adds an artifact manifest (empty config) whose subject is `subject`. */
  artifact(subject: Descriptor, artifactType: string, payload: string): Descriptor & { bytes: Buffer } {
    const empty = this.blob('{}', OCI_EMPTY);
    const layer = this.blob(payload, 'text/plain');
    return this.manifest({
      schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType, config: empty, layers: [layer],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    });
  }

  /** Adds an OCI image index over `children` (which must be in the layout already). */
  /** Two images sharing one layer ('shared'), and an index of both: a layout with something to deduplicate. */
  twoImages(): { one: Descriptor & { bytes: Buffer }; two: Descriptor & { bytes: Buffer }; index: Descriptor & { bytes: Buffer } } {
    const one = this.image({ layers: ['one', 'shared'] });
    const two = this.image({ layers: ['two', 'shared'] });
    return { one, two, index: this.index([one, two]) };
  }

  index(children: Descriptor[]): Descriptor & { bytes: Buffer } {
    return this.manifest({
      schemaVersion: 2, mediaType: OCI_INDEX,
      manifests: children.map((c, i) => ({ mediaType: c.mediaType, digest: c.digest, size: c.size, platform: { architecture: `arch${i}`, os: 'linux' } })),
    });
  }

  /** Adds any manifest body as a blob. */
  manifest(body: Record<string, unknown>): Descriptor & { bytes: Buffer } {
    const bytes = Buffer.from(JSON.stringify(body));
    return { ...this.blob(bytes, body.mediaType as string), bytes };
  }

  /** Adds an index.json entry for `descriptor`, with a ref.name annotation when given. */
  entry(descriptor: Descriptor, refName?: string, extra: Record<string, unknown> = {}): this {
    const entry: Descriptor = { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size, ...extra };
    if (refName !== undefined) entry.annotations = { [REF_NAME]: refName };
    this.entries.push(entry);
    return this;
  }

  indexJson(): { schemaVersion: 2; mediaType: string; manifests: Descriptor[] } {
    return { schemaVersion: 2, mediaType: OCI_INDEX, manifests: this.entries };
  }

  /** Writes oci-layout, index.json and blobs/<alg>/<hex> under `dir`. */
  async write(dir: string): Promise<string> {
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(join(dir, 'index.json'), JSON.stringify(this.indexJson()));
    for (const [digest, bytes] of this.blobs) await writeFile(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), bytes);
    return dir;
  }
}

export function blobPath(dir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':') as [string, string];
  return join(dir, 'blobs', algorithm, hex);
}

/** A layout as found on disk: its oci-layout, parsed index.json, and every file under blobs/ by relative path. */
export interface LayoutOnDisk {
  ociLayout: unknown;
  index: { schemaVersion: number; mediaType?: string; manifests: Descriptor[] };
  blobs: Map<string, Buffer>;
}

export async function readLayout(dir: string): Promise<LayoutOnDisk> {
  const blobs = new Map<string, Buffer>();
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      else blobs.set(relative(dir, full).split('\\').join('/'), await readFile(full));
    }
  };
  await walk(join(dir, 'blobs'));
  return {
    ociLayout: JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8')),
    index: JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')),
    blobs,
  };
}

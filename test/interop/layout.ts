// OCI image layouts on disk (image-spec "image-layout.md"), written and read
// by plain node code, so the interop tests can hand a real client content
// whose every byte and digest the test knows in advance.
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST } from '../helpers/media-types.js';
import { sha256 } from '../helpers/digest.js';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

export { OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, sha256 };
export { pseudoRandomBytes } from '../helpers/bytes.js';
/** The annotation an image layout uses to name a manifest ("tag") in index.json. */
export const REF_NAME = 'org.opencontainers.image.ref.name';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
}

/** Content-addressed bytes plus the descriptor that points at them. */
export interface Blob {
  descriptor: Descriptor;
  bytes: Buffer;
}

export interface Image {
  manifest: Blob;
  config: Blob;
  layers: Blob[];
  /** sha256 of each uncompressed layer tar, as the config's rootfs.diff_ids lists them. */
  diffIds: string[];
}

export interface ImageIndex {
  index: Blob;
  children: Image[];
}

function blob(mediaType: string, bytes: Buffer, extra: Partial<Descriptor> = {}): Blob {
  return { descriptor: { mediaType, digest: sha256(bytes), size: bytes.length, ...extra }, bytes };
}

export interface TarEntry {
  /** Path inside the archive, relative, `/`-separated; a trailing `/` makes a directory. */
  name: string;
  content?: Buffer | string;
  mode?: number;
}

/** Writes `value` as a NUL-terminated octal field of `width` bytes at `offset`. */
function octal(header: Buffer, offset: number, width: number, value: number): void {
  header.write(value.toString(8).padStart(width - 1, '0'), offset, width - 1, 'ascii');
  header[offset + width - 1] = 0;
}

/**
 * A minimal POSIX ustar writer: regular files and directories, names up to
 * 100 bytes, fixed owner and mtime so the same entries always give the same
 * bytes (and so the same digests).
 */
export function tar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const isDir = entry.name.endsWith('/');
    const content = isDir ? Buffer.alloc(0) : Buffer.from(entry.content ?? '');
    if (Buffer.byteLength(entry.name) > 100) throw new Error(`tar entry name longer than 100 bytes: ${entry.name}`);
    const header = Buffer.alloc(512);
    header.write(entry.name, 0, 100, 'utf8');
    octal(header, 100, 8, entry.mode ?? (isDir ? 0o755 : 0o644));
    octal(header, 108, 8, 0); // uid
    octal(header, 116, 8, 0); // gid
    octal(header, 124, 12, content.length);
    octal(header, 136, 12, 1_700_000_000); // mtime: fixed, for reproducible bytes
    header.write(isDir ? '5' : '0', 156, 1, 'ascii'); // typeflag
    header.write('ustar\u000000', 257, 8, 'ascii'); // magic "ustar\0" + version "00"
    header.write('root', 265, 32, 'ascii'); // uname
    header.write('root', 297, 32, 'ascii'); // gname
    // Checksum: sum of all header bytes with the checksum field read as spaces.
    header.fill(0x20, 148, 156);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
    parts.push(header, content);
    const pad = (512 - (content.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024)); // end of archive: two zero blocks
  return Buffer.concat(parts);
}

export interface ImageSpec {
  architecture?: string;
  os?: string;
  /** One layer per entry list; default one layer with one file naming the platform. */
  layers?: TarEntry[][];
  /** Extra config fields (e.g. `config: { Env: [...] }`). */
  config?: Record<string, unknown>;
}

/** Builds an OCI image: gzip'd tar layers made here, a config JSON, a manifest. */
export function buildImage(spec: ImageSpec = {}): Image {
  const architecture = spec.architecture ?? 'amd64';
  const os = spec.os ?? 'linux';
  const layerEntries = spec.layers ?? [
    [{ name: 'etc/' }, { name: 'etc/platform', content: `${os}/${architecture}\n` }],
  ];
  const tars = layerEntries.map((entries) => tar(entries));
  const diffIds = tars.map((bytes) => sha256(bytes));
  const layers = tars.map((bytes) => blob(OCI_LAYER, gzipSync(bytes, { level: 9 })));
  const configJson = {
    created: '2023-11-14T22:13:20Z',
    architecture,
    os,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map((_, i) => ({ created: '2023-11-14T22:13:20Z', created_by: `interop test layer ${i}` })),
    ...spec.config,
  };
  const config = blob(OCI_CONFIG, Buffer.from(JSON.stringify(configJson)));
  const manifestJson = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: config.descriptor,
    layers: layers.map((l) => l.descriptor),
  };
  const manifest = blob(OCI_MANIFEST, Buffer.from(JSON.stringify(manifestJson)), { platform: { architecture, os } });
  return { manifest, config, layers, diffIds };
}

/** Builds an OCI image index over `children`; each child's descriptor carries its platform. */
export function buildIndex(children: Image[]): ImageIndex {
  const indexJson = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: children.map((c) => c.manifest.descriptor),
  };
  return { index: blob(OCI_INDEX, Buffer.from(JSON.stringify(indexJson))), children };
}

/** Every blob an image or index consists of, manifests included. */
export function blobsOf(content: Image | ImageIndex): Blob[] {
  if ('index' in content) return [content.index, ...content.children.flatMap((c) => blobsOf(c))];
  return [content.manifest, content.config, ...content.layers];
}

/**
 * The files of an image layout: `oci-layout`, `blobs/sha256/<hex>` for every
 * blob, and `index.json` naming each top-level entry with its key (a tag, or
 * a whole reference as some importers want).
 */
function layoutFiles(tagged: Record<string, Image | ImageIndex>): Map<string, Buffer> {
  const files = new Map<string, Buffer>([['oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }))]]);
  const manifests: Descriptor[] = [];
  for (const [tag, content] of Object.entries(tagged)) {
    for (const b of blobsOf(content)) files.set(`blobs/sha256/${b.descriptor.digest.slice('sha256:'.length)}`, b.bytes);
    const top = 'index' in content ? content.index : content.manifest;
    const { platform: _platform, ...descriptor } = top.descriptor;
    manifests.push({ ...descriptor, annotations: { [REF_NAME]: tag } });
  }
  files.set('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests })));
  return files;
}

/** Writes an image layout at `dir` (see layoutFiles). */
export async function writeLayout(dir: string, tagged: Record<string, Image | ImageIndex>): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const [path, bytes] of layoutFiles(tagged)) await writeFile(join(dir, path), bytes);
}

/** An image layout as one tar archive (an "OCI archive", as `ctr images import` reads). */
export function layoutArchive(tagged: Record<string, Image | ImageIndex>): Buffer {
  const files = [...layoutFiles(tagged)].map(([name, content]) => ({ name, content }));
  return tar([{ name: 'blobs/' }, { name: 'blobs/sha256/' }, ...files]);
}

export interface Layout {
  /** index.json, parsed. */
  index: { schemaVersion: number; manifests: Descriptor[] };
  /** Every file under blobs/sha256, keyed by digest. */
  blobs: Map<string, Buffer>;
}

/** Reads a layout back: index.json and every blob, checking each file's name is its digest. */
export async function readLayout(dir: string): Promise<Layout> {
  const layoutFile = JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8')) as { imageLayoutVersion: string };
  if (layoutFile.imageLayoutVersion !== '1.0.0') throw new Error(`unexpected oci-layout ${JSON.stringify(layoutFile)}`);
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as Layout['index'];
  const blobs = new Map<string, Buffer>();
  for (const name of await readdir(join(dir, 'blobs', 'sha256'))) {
    const bytes = await readFile(join(dir, 'blobs', 'sha256', name));
    const digest = sha256(bytes);
    if (digest !== `sha256:${name}`) throw new Error(`blob file ${name} holds content with digest ${digest}`);
    blobs.set(digest, bytes);
  }
  return { index, blobs };
}

/** The index.json entry tagged `tag`, or undefined. */
export function taggedEntry(layout: Layout, tag: string): Descriptor | undefined {
  return layout.index.manifests.find((d) => d.annotations?.[REF_NAME] === tag);
}

/** The regular files of a ustar/GNU tar archive (as `docker save` writes), by name; directories and links are skipped. */
export function untar(archive: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let longName: string | undefined;
  for (let offset = 0; offset + 512 <= archive.length; ) {
    const header = archive.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start: number, width: number) => header.subarray(start, start + width).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    const prefix = field(345, 155);
    const content = archive.subarray(offset + 512, offset + 512 + size);
    const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    longName = undefined;
    if (type === 'L') longName = content.toString('utf8').replace(/\0.*$/s, '');
    else if (type === '0' || type === '') files.set(name, Buffer.from(content));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

const hex = (digest: string) => digest.slice('sha256:'.length);

/** A `docker save` archive of `image` (layers as uncompressed tars) tagged `repoTags`. */
export function dockerArchive(image: Image, repoTags: string[]): Buffer {
  const layers = image.layers.map((_, position) => ({ name: `${position}/layer.tar`, content: gunzipSync(image.layers[position]!.bytes) }));
  const manifest = [{ Config: `${hex(image.config.descriptor.digest)}.json`, RepoTags: repoTags, Layers: layers.map((l) => l.name) }];
  return tar([
    { name: `${hex(image.config.descriptor.digest)}.json`, content: image.config.bytes },
    ...image.layers.map((_, position) => ({ name: `${position}/` })),
    ...layers,
    { name: 'manifest.json', content: JSON.stringify(manifest) },
  ]);
}

/**
 * Writing what a store holds as OCI image layouts (image-spec
 * `image-layout.md`), so that what a CI job pushed can be kept as an artifact
 * and read back by `importLayout`, skopeo (`oci:DIR:TAG`), oras or crane.
 *
 * Every file is written to a temporary name in its final directory and then
 * renamed, so a reader never sees half a blob and an existing file (or link)
 * is replaced, never written through. Directories are created one component
 * at a time and checked, so no symbolic link can lead a write outside the
 * target directory.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, realpath, rename, rm, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDigest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import { isOptionalBlob } from '../oci/manifest.js';
import { isName } from '../oci/reference.js';
import type { PageRequest, Page, Store, StoredManifest } from '../store/store.js';
import { IMAGE_LAYOUT_VERSION, INDEX_FILE, LayoutError, OCI_LAYOUT_FILE, REF_NAME, blobFile, describeFsError, makeDirInside } from './layout.js';

/** What {@link exportLayout} wrote for one repository. */
export interface LayoutExport {
  name: string;
  /** The layout directory. */
  dir: string;
  /** Tags written as `index.json` entries with a `ref.name` annotation. */
  tags: number;
  /** Manifests written: tagged ones, the children of indexes, and referrers. */
  manifests: number;
  /** Blob files written (manifests included). */
  files: number;
  bytes: number;
  /**
   * Digests a written manifest references that the store no longer holds in
   * this repository (e.g. a child manifest deleted after its index was
   * pushed); the layout is incomplete without them.
   */
  missing: string[];
}

/** An `index.json` entry (image-spec descriptor). */
interface IndexEntry {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** Pages through a paged store listing to the end. */
async function* everything(list: (page: PageRequest) => Promise<Page | undefined>): AsyncGenerator<string> {
  let last: string | undefined;
  for (;;) {
    const page = await list(last === undefined ? { n: 1000 } : { n: 1000, last });
    if (!page) return;
    yield* page.items;
    if (!page.more || page.items.length === 0) return;
    last = page.items[page.items.length - 1];
  }
}

// O_NOFOLLOW is not defined on Windows; O_EXCL alone already refuses to follow a link there.
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

/** Writes files inside one resolved directory and nowhere else. */
class LayoutWriter {
  readonly #dirs = new Map<string, Promise<string>>();

  constructor(
    /** The directory, symbolic links resolved. */
    readonly root: string,
    /** The directory as given, for messages. */
    readonly dir: string,
  ) {}

  #dirOf(parts: readonly string[]): Promise<string> {
    const key = parts.join('/');
    let made = this.#dirs.get(key);
    if (!made) this.#dirs.set(key, (made = makeDirInside(this.root, parts, this.dir)));
    return made;
  }

  /** Writes `data` to `file` (a path relative to the root built by this module, never from outside input). */
  async write(file: string, data: Buffer | readonly Buffer[]): Promise<void> {
    const parts = file.split('/');
    const base = parts.pop()!;
    const parent = await this.#dirOf(parts);
    const temporary = join(parent, `.${base}.${randomUUID()}.tmp`);
    try {
      const handle = await open(temporary, CREATE_NEW, 0o644);
      try {
        for (const segment of Buffer.isBuffer(data) ? [data] : data) {
          let written = 0;
          while (written < segment.length) written += (await handle.write(segment, written)).bytesWritten;
        }
      } finally {
        await handle.close();
      }
      await rename(temporary, join(parent, base));
    } catch (error) {
      await rm(temporary, { force: true });
      if (error instanceof LayoutError) throw error;
      throw new LayoutError(this.dir, file, `cannot write: ${describeFsError(error)}`, { cause: error });
    }
  }
}

/** Config and layers of an image manifest, or the children of an index, from its stored bytes. */
function references(manifest: StoredManifest): { blobs: IndexEntry[]; manifests: IndexEntry[] } {
  const body = JSON.parse(manifest.bytes.toString('utf8')) as { config?: IndexEntry; layers?: IndexEntry[]; manifests?: IndexEntry[] };
  if (manifest.kind === 'index') return { blobs: [], manifests: body.manifests ?? [] };
  return { blobs: [...(body.config ? [body.config] : []), ...(body.layers ?? [])], manifests: [] };
}

/**
 * Writes repository `name` of `store` as an OCI image layout at `dir`
 * (created if needed): `oci-layout`, `blobs/<alg>/<encoded>` for every
 * manifest and blob reachable from its tags, and `index.json` with one entry
 * per tag (annotation `org.opencontainers.image.ref.name` = the bare tag, as
 * skopeo and oras write it) followed by one untagged entry per referrer
 * (manifests whose `subject` is a written manifest). Children of an index are
 * written as blobs, not entries. Then every other manifest of the repository
 * that no manifest names becomes an untagged entry, and every other linked
 * blob a blob file, so the export holds all the repository holds. `dir` may
 * hold an earlier export: files are replaced, stale blobs stay.
 *
 * Nothing is written outside `dir`: paths come from validated digests only,
 * and a symbolic link inside `dir` that leads out of it is refused.
 *
 * @throws {LayoutError} naming the file, when a directory or file cannot be written.
 */
export async function exportLayout(store: Store, name: string, dir: string): Promise<LayoutExport> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new LayoutError(dir, '.', `cannot create the directory: ${describeFsError(error)}`, { cause: error });
  }
  return writeLayout(store, name, new LayoutWriter(await realpath(dir), dir));
}

async function writeLayout(store: Store, name: string, writer: LayoutWriter): Promise<LayoutExport> {
  const result: LayoutExport = { name, dir: writer.dir, tags: 0, manifests: 0, files: 0, bytes: 0, missing: [] };
  const entries: IndexEntry[] = [];
  const written = new Set<string>();
  const listed = new Set<string>();
  /** Manifests written whose referrers are still to be looked up. */
  const pending: string[] = [];

  const writeBlob = async (digest: string, data: Buffer | readonly Buffer[], size: number): Promise<void> => {
    if (written.has(digest)) return;
    written.add(digest);
    await writer.write(blobFile(parseDigest(digest)), data);
    result.files++;
    result.bytes += size;
  };

  const writeManifest = async (manifest: StoredManifest): Promise<void> => {
    if (written.has(manifest.digest)) return;
    await writeBlob(manifest.digest, manifest.bytes, manifest.bytes.length);
    result.manifests++;
    pending.push(manifest.digest);
    const { blobs, manifests } = references(manifest);
    for (const child of manifests) {
      const stored = await store.manifest(name, child.digest);
      if (stored) await writeManifest(stored);
      else result.missing.push(child.digest);
    }
    for (const descriptor of blobs) {
      if (written.has(descriptor.digest)) continue;
      const blob = await store.blob(name, descriptor.digest);
      if (blob) await writeBlob(blob.digest, blob.segments, blob.size);
      // Foreign layers and the empty descriptor need not be held (as on push).
      else if (!isOptionalBlob(descriptor)) result.missing.push(descriptor.digest);
    }
  };

  for await (const tag of everything((page) => store.tags(name, page))) {
    const manifest = await store.manifest(name, tag);
    if (!manifest) continue; // deleted while we were listing
    entries.push({ mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length, annotations: { [REF_NAME]: tag } });
    listed.add(manifest.digest);
    result.tags++;
    await writeManifest(manifest);
  }
  // Referrers (and their referrers) become untagged entries, as oras lays them out.
  while (pending.length > 0) {
    const subject = pending.shift()!;
    for (const referrer of await store.referrers(name, subject)) {
      const manifest = await store.manifest(name, referrer.digest);
      if (!manifest) continue;
      if (!listed.has(manifest.digest)) {
        listed.add(manifest.digest);
        const entry: IndexEntry = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length };
        if (referrer.artifactType) entry.artifactType = referrer.artifactType;
        entries.push(entry);
      }
      await writeManifest(manifest);
    }
  }

  // Everything else the repository holds: untagged manifests that no other
  // manifest names become untagged entries (their children follow them), and
  // blobs no manifest names are written as blob files, so nothing pushed is lost.
  const contents = await store.contents(name);
  if (contents) {
    const stored = (await Promise.all(contents.manifests.map((digest) => store.manifest(name, digest)))).filter((m): m is StoredManifest => m !== undefined);
    const children = new Set(stored.flatMap((m) => references(m).manifests.map((c) => c.digest)));
    for (const manifest of stored) {
      if (written.has(manifest.digest) || children.has(manifest.digest)) continue;
      entries.push({ mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length });
      listed.add(manifest.digest);
      await writeManifest(manifest);
    }
    for (const manifest of stored) if (!written.has(manifest.digest)) await writeManifest(manifest);
    for (const digest of contents.blobs) {
      if (written.has(digest)) continue;
      const blob = await store.blob(name, digest);
      if (blob) await writeBlob(blob.digest, blob.segments, blob.size);
    }
  }

  await writer.write(OCI_LAYOUT_FILE, Buffer.from(JSON.stringify({ imageLayoutVersion: IMAGE_LAYOUT_VERSION }) + '\n'));
  // index.json last: a layout is complete once it exists.
  const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: entries };
  await writer.write(INDEX_FILE, Buffer.from(JSON.stringify(index, null, 2) + '\n'));
  return result;
}

/**
 * Writes every repository of `store` as its own OCI image layout under `dir`,
 * at `dir/<name>` (a name with slashes makes nested directories:
 * `dir/team/app`). See {@link exportLayout}. Repositories are written one
 * after the other; the first failure stops the export.
 *
 * @throws {LayoutError} naming the file, when something cannot be written.
 */
export async function exportLayouts(store: Store, dir: string): Promise<LayoutExport[]> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new LayoutError(dir, '.', `cannot create the directory: ${describeFsError(error)}`, { cause: error });
  }
  const root = await realpath(dir);
  const results: LayoutExport[] = [];
  for await (const name of everything((page) => store.repositories(page))) {
    // A valid name has no '..', no empty component and no separator but '/'.
    if (!isName(name)) throw new LayoutError(dir, '.', `repository name ${JSON.stringify(name)} cannot be a directory name`);
    const parts = name.split('/');
    const layoutRoot = await makeDirInside(root, parts, dir);
    results.push(await writeLayout(store, name, new LayoutWriter(layoutRoot, join(dir, ...parts))));
  }
  return results;
}

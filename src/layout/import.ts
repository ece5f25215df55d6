/**
 * Seeding a store from an OCI image layout directory (image-spec
 * `image-layout.md`: `oci-layout`, `index.json`, `blobs/<alg>/<encoded>`).
 *
 * Everything goes through the checks an HTTP push gets: every blob is read
 * whole and its size and digest verified, every manifest goes through
 * `parseManifest` and `store.putManifest` (so sub-manifest and blob-presence
 * validation, size limits and the storage quota all apply), and the children
 * of an index are stored before the index. Files are found only from
 * validated digests, and a symbolic link that leaves the directory is refused.
 */
import { createHash } from 'node:crypto';
import { constants, open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { DEFAULT_OPTIONS } from '../options.js';
import { RegistryError } from '../oci/errors.js';
import { parseDigest } from '../oci/digest.js';
import { isObject, parseManifest, type Descriptor, type ParsedManifest } from '../oci/manifest.js';
import { checkName, checkTag, isName } from '../oci/reference.js';
import type { BlobContent, Store } from '../store/store.js';
import {
  IMAGE_LAYOUT_VERSION,
  INDEX_FILE,
  LayoutError,
  OCI_LAYOUT_FILE,
  REF_NAME,
  blobFile,
  describeFsError,
  resolveInside,
} from './layout.js';
import { parseRefName } from './ref-name.js';

/** How to map a layout's `index.json` entries onto repositories and tags. */
export interface ImportLayoutOptions {
  /**
   * Repository every entry goes into, whatever its `ref.name` says. Default:
   * the repository a full-reference `ref.name` names, else the base name of
   * the layout directory (see `parseRefName` for the rule).
   */
  name?: string;
  /**
   * Import one image and tag it `tag`: the layout's only `index.json` entry,
   * or, when it has several, the entries whose `ref.name` tag is `tag` (they
   * must all be the same manifest). Other entries are left out.
   */
  tag?: string;
  /** Largest manifest accepted, as `RegistryOptions.maxManifestBytes`. Default: `DEFAULT_OPTIONS.maxManifestBytes`. */
  maxManifestBytes?: number;
}

/** One `index.json` entry as stored. */
export interface ImportedManifest {
  name: string;
  digest: string;
  mediaType: string;
  /** Tags now pointing at it (empty: stored by digest only). */
  tags: string[];
}

/** What {@link importLayout} stored. */
export interface LayoutImport {
  /** The `index.json` entries imported, in their order. */
  manifests: ImportedManifest[];
  /** Distinct blob files read and verified (manifests included). */
  files: number;
  /** Bytes read from those files. */
  bytes: number;
}

/** index.json and oci-layout are read whole; these bounds keep a stray huge file from being loaded. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
const MAX_OCI_LAYOUT_BYTES = 64 * 1024;
/** Blob files are read in segments of at most this size (DESIGN.md "Blob bytes"). */
const SEGMENT_BYTES = 8 * 1024 * 1024;
/** Indexes of indexes are legal, but a layout nested deeper than this is refused rather than followed. */
const MAX_DEPTH = 16;

interface Entry {
  descriptor: Descriptor;
  /** `index.json manifests[i]`, for messages. */
  where: string;
  refName?: string;
}


/**
 * Reads the OCI image layout at `dir` into `store`.
 *
 * Repositories and tags come from each `index.json` entry's
 * `org.opencontainers.image.ref.name` annotation: a bare tag (`v1`) is tagged
 * in the repository named by `options.name`, else by the directory's base
 * name; a full reference (`example.com/team/app:v1`) names its own repository
 * (host dropped) unless `options.name` overrides it; an entry without the
 * annotation is stored by digest only. See {@link ImportLayoutOptions.tag} to
 * pick one image.
 *
 * @throws {LayoutError} naming the file and the problem when the layout is
 *   malformed, a blob is missing or does not match its digest or size, a
 *   manifest is invalid, or the store refuses it (e.g. the storage limit).
 *   Content stored before the failure stays stored.
 */
export async function importLayout(store: Store, dir: string, options: ImportLayoutOptions = {}): Promise<LayoutImport> {
  let root: string;
  try {
    root = await realpath(dir);
  } catch (error) {
    throw new LayoutError(dir, '.', `cannot open the layout directory: ${describeFsError(error)}`);
  }
  if (!(await stat(root)).isDirectory()) throw new LayoutError(dir, '.', 'is not a directory: give an OCI image layout directory (oci-layout, index.json, blobs/)');
  const reader = new LayoutReader(store, dir, root, options.maxManifestBytes ?? DEFAULT_OPTIONS.maxManifestBytes);
  await reader.checkLayoutFile();
  const entries = await reader.readIndex();
  return reader.import(selectEntries(dir, entries, options));
}

/** Which entries to import, into which repository, under which tags. */
function selectEntries(dir: string, entries: Entry[], options: ImportLayoutOptions): { entry: Entry; name: string; tags: string[] }[] {
  const fail = (problem: string): never => {
    throw new LayoutError(dir, INDEX_FILE, problem);
  };
  const check = <T>(what: () => T, where: string): T => {
    try {
      return what();
    } catch (error) {
      if (error instanceof RegistryError) fail(`${where}: ${error.message}`);
      throw error;
    }
  };
  if (options.name !== undefined) check(() => checkName(options.name!), 'the repository name given');
  if (options.tag !== undefined) check(() => checkTag(options.tag!), 'the tag given');

  const nameOf = (entry: Entry, named: string | undefined): string => {
    // A ref.name's repository must be valid even when the name option overrides it:
    // `../../x` is a hostile annotation, not a tag to import as `latest`.
    if (named !== undefined) check(() => checkName(named), `${entry.where} ref.name ${JSON.stringify(entry.refName)}`);
    const name = options.name ?? named;
    if (name !== undefined) return check(() => checkName(name), `${entry.where} ref.name ${JSON.stringify(entry.refName)}`);
    const base = basename(resolve(dir));
    if (!isName(base)) {
      fail(`${entry.where} ${entry.refName === undefined ? 'has no ref.name annotation' : `has ref.name ${JSON.stringify(entry.refName)}, a bare tag`}, ` +
        `so its repository would be the directory name ${JSON.stringify(base)}, which is not a valid repository name: name the repository explicitly (--seed NAME=DIR, or the name option)`);
    }
    return base;
  };

  if (options.tag !== undefined) {
    const tag = options.tag;
    const chosen = entries.length === 1 ? entries : entries.filter((e) => e.refName !== undefined && parseRefName(e.refName).tag === tag);
    if (chosen.length === 0) {
      const known = entries.flatMap((e) => (e.refName === undefined ? [] : [JSON.stringify(e.refName)]));
      fail(`no entry has the tag ${JSON.stringify(tag)} in its ref.name (${known.length > 0 ? `ref.names here: ${known.join(', ')}` : 'no entry has a ref.name'}); ` +
        'name an existing tag, or leave the tag out to import every entry');
    }
    const digests = new Set(chosen.map((e) => e.descriptor.digest));
    if (digests.size > 1) fail(`${digests.size} different manifests have the tag ${JSON.stringify(tag)}: ${[...digests].join(', ')}`);
    return chosen.map((entry) => ({ entry, name: nameOf(entry, entry.refName === undefined ? undefined : parseRefName(entry.refName).name), tags: [tag] }));
  }
  return entries.map((entry) => {
    const ref = entry.refName === undefined ? {} : parseRefName(entry.refName);
    const name = nameOf(entry, ref.name);
    const tags = ref.tag === undefined ? [] : [check(() => checkTag(ref.tag!), `${entry.where} ref.name ${JSON.stringify(entry.refName)}`)];
    return { entry, name, tags };
  });
}

class LayoutReader {
  /** Verified blob contents by digest: a blob shared by several manifests or repositories is read once. */
  readonly #blobs = new Map<string, BlobContent>();
  /** Manifests already stored, by `name@digest`. */
  readonly #manifests = new Map<string, ParsedManifest>();
  #bytes = 0;

  constructor(
    readonly store: Store,
    /** The directory as given, for messages. */
    readonly dir: string,
    /** The directory with symbolic links resolved: nothing is read outside it. */
    readonly root: string,
    readonly maxManifestBytes: number,
  ) {}

  #fail(file: string, problem: string, cause?: unknown): never {
    throw new LayoutError(this.dir, file, problem, cause === undefined ? undefined : { cause });
  }

  /**
   * Opens `file` (relative to the layout) for reading, after checking that
   * it resolves inside the layout. Undefined when `optional` and absent.
   */
  async #open(file: string, hint: string, optional = false): Promise<FileHandle | undefined> {
    try {
      // Non-blocking, so a FIFO (or device) in the layout fails the isFile() check instead of hanging the read.
      return await open(await resolveInside(this.root, file, this.dir), constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (error) {
      if (error instanceof LayoutError) throw error;
      if (optional && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      this.#fail(file, `${describeFsError(error)} (${hint})`, error);
    }
  }

  /** Reads a small file whole (oci-layout, index.json). */
  async #readSmall(file: string, limit: number): Promise<Buffer> {
    const handle = (await this.#open(file, 'an OCI image layout has oci-layout, index.json and blobs/'))!;
    try {
      const info = await handle.stat();
      if (!info.isFile()) this.#fail(file, 'is not a regular file');
      if (info.size > limit) this.#fail(file, `is ${info.size} bytes, more than the ${limit} this reader accepts`);
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  #parseJson(file: string, bytes: Buffer): unknown {
    try {
      return JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      this.#fail(file, `is not valid JSON: ${(error as Error).message}`);
    }
  }

  /** image-spec "oci-layout file": `{"imageLayoutVersion": "1.0.0"}`. */
  async checkLayoutFile(): Promise<void> {
    const body = this.#parseJson(OCI_LAYOUT_FILE, await this.#readSmall(OCI_LAYOUT_FILE, MAX_OCI_LAYOUT_BYTES));
    const version = isObject(body) ? body.imageLayoutVersion : undefined;
    if (typeof version !== 'string') this.#fail(OCI_LAYOUT_FILE, `must be {"imageLayoutVersion": "${IMAGE_LAYOUT_VERSION}"}`);
    if (!/^1\.\d+\.\d+$/.test(version)) this.#fail(OCI_LAYOUT_FILE, `imageLayoutVersion ${JSON.stringify(version)} is not supported: this reader knows ${IMAGE_LAYOUT_VERSION}`);
  }

  /** image-spec "index.json file": an image index whose entries are the layout's roots. */
  async readIndex(): Promise<Entry[]> {
    const bytes = await this.#readSmall(INDEX_FILE, MAX_INDEX_BYTES);
    const body = this.#parseJson(INDEX_FILE, bytes);
    if (!isObject(body) || !Array.isArray(body.manifests)) this.#fail(INDEX_FILE, 'must be an image index: {"schemaVersion": 2, "manifests": [...]}');
    let index: ParsedManifest;
    try {
      index = parseManifest(bytes, undefined);
    } catch (error) {
      if (error instanceof RegistryError) this.#fail(INDEX_FILE, error.message);
      throw error;
    }
    if (index.kind !== 'index') this.#fail(INDEX_FILE, `has media type ${index.mediaType}; it must be an image index`);
    return index.manifests.map((descriptor, i) => {
      const refName = descriptor.annotations?.[REF_NAME];
      return refName === undefined ? { descriptor, where: `${INDEX_FILE} manifests[${i}]` } : { descriptor, where: `${INDEX_FILE} manifests[${i}]`, refName };
    });
  }

  async import(selected: { entry: Entry; name: string; tags: string[] }[]): Promise<LayoutImport> {
    const manifests: ImportedManifest[] = [];
    for (const { entry, name, tags } of selected) {
      const parsed = await this.#importManifest(name, entry.descriptor, tags, entry.where, 0);
      manifests.push({ name, digest: parsed.digest, mediaType: parsed.mediaType, tags });
    }
    return { manifests, files: this.#blobs.size, bytes: this.#bytes };
  }

  /**
   * Reads `blobs/<alg>/<encoded>` whole, verifying that its size and digest
   * are the descriptor's. Undefined when `optional` and the file is absent.
   */
  async #readBlob(descriptor: Descriptor, where: string, optional = false): Promise<BlobContent | undefined> {
    const known = this.#blobs.get(descriptor.digest);
    if (known) {
      if (known.size !== descriptor.size) this.#fail(blobFile(parseDigest(descriptor.digest)), `is ${known.size} bytes, but ${where} says ${descriptor.size}`);
      return known;
    }
    const digest = parseDigest(descriptor.digest);
    const file = blobFile(digest);
    const handle = await this.#open(file, `named by ${where}`, optional);
    if (!handle) return undefined;
    try {
      const info = await handle.stat();
      if (!info.isFile()) this.#fail(file, 'is not a regular file');
      if (info.size !== descriptor.size) this.#fail(file, `is ${info.size} bytes, but ${where} says ${descriptor.size}`);
      const hash = createHash(digest.algorithm);
      const segments: Buffer[] = [];
      let size = 0;
      while (size < descriptor.size) {
        const segment = Buffer.allocUnsafeSlow(Math.min(SEGMENT_BYTES, descriptor.size - size));
        let filled = 0;
        while (filled < segment.length) {
          const { bytesRead } = await handle.read(segment, filled, segment.length - filled, size + filled);
          if (bytesRead === 0) this.#fail(file, 'shrank while it was being read');
          filled += bytesRead;
        }
        hash.update(segment);
        segments.push(segment);
        size += segment.length;
      }
      const actual = `${digest.algorithm}:${hash.digest('hex')}`;
      if (actual !== descriptor.digest) this.#fail(file, `content does not match its digest: it hashes to ${actual} (named by ${where})`);
      const content: BlobContent = { digest: descriptor.digest, size, segments };
      this.#blobs.set(descriptor.digest, content);
      this.#bytes += size;
      return content;
    } finally {
      await handle.close();
    }
  }

  /** Stores through the Store, turning its protocol errors into layout errors that name the file. */
  async #store<T>(file: string, where: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (error instanceof RegistryError) this.#fail(file, `${where}: ${error.message}`, error);
      throw error;
    }
  }

  async #importBlob(name: string, descriptor: Descriptor, required: boolean, where: string): Promise<void> {
    const content = await this.#readBlob(descriptor, where, !required);
    if (!content) return;
    await this.#store(blobFile(parseDigest(descriptor.digest)), where, () => this.store.putBlob(name, content));
  }

  /** Stores one manifest after everything it references (spec "Pushing Manifests": references first). */
  async #importManifest(name: string, descriptor: Descriptor, tags: string[], where: string, depth: number): Promise<ParsedManifest> {
    const file = blobFile(parseDigest(descriptor.digest));
    const key = `${name}@${descriptor.digest}`;
    let parsed = this.#manifests.get(key);
    if (!parsed) {
      if (depth > MAX_DEPTH) this.#fail(file, `indexes are nested more than ${MAX_DEPTH} deep (${where})`);
      if (descriptor.size > this.maxManifestBytes) {
        this.#fail(file, `is a ${descriptor.size}-byte manifest, larger than the limit of ${this.maxManifestBytes} bytes (maxManifestBytes)`);
      }
      const content = (await this.#readBlob(descriptor, where))!;
      const bytes = content.segments.length === 1 ? content.segments[0]! : Buffer.concat(content.segments);
      const body = this.#parseJson(file, bytes);
      const declared = isObject(body) ? body.mediaType : undefined;
      if (typeof declared === 'string' && declared !== descriptor.mediaType) {
        this.#fail(file, `the manifest's mediaType is ${declared}, but ${where} says ${descriptor.mediaType}`);
      }
      try {
        parsed = parseManifest(bytes, descriptor.mediaType, parseDigest(descriptor.digest).algorithm);
      } catch (error) {
        if (error instanceof RegistryError) this.#fail(file, `${error.message} (named by ${where})`, error);
        throw error;
      }
      if (parsed.kind === 'index') {
        for (const [i, child] of parsed.manifests.entries()) {
          await this.#importManifest(name, child, [], `${file} manifests[${i}]`, depth + 1);
        }
      } else {
        // Every config and layer the layout holds is stored; those a registry
        // may lack (foreign layers, the empty descriptor) may also be absent here.
        for (const [i, blob] of parsed.blobs.entries()) {
          await this.#importBlob(name, blob, !blob.optional, `${file} ${i === 0 ? 'config' : `layers[${i - 1}]`}`);
        }
      }
    }
    const manifest = parsed;
    await this.#store(file, where, () => this.store.putManifest(name, manifest, tags));
    this.#manifests.set(key, manifest);
    return manifest;
  }
}

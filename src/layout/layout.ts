/**
 * What the OCI image layout reader and writer share (image-spec
 * `image-layout.md`): file names, the error type, and the path rules that keep
 * every read and write inside the layout directory.
 */
import { lstat, mkdir, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { ParsedDigest } from '../oci/digest.js';

/** image-spec "oci-layout file": the marker file and the version this code reads and writes. */
export const OCI_LAYOUT_FILE = 'oci-layout';
export const IMAGE_LAYOUT_VERSION = '1.0.0';
/** image-spec "index.json file": the entry point of a layout. */
export const INDEX_FILE = 'index.json';
/** image-spec "Pre-Defined Annotation Keys": the reference name of an index.json entry. */
export const REF_NAME = 'org.opencontainers.image.ref.name';

/**
 * A layout that cannot be read or written: `file` is the path of the
 * offending file relative to the layout directory (`index.json`,
 * `blobs/sha256/…`), or `.` for the directory itself.
 */
export class LayoutError extends Error {
  readonly file: string;
  /** The layout directory as given. */
  readonly dir: string;

  constructor(dir: string, file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file === '.' ? dir : join(dir, file)}: ${problem}`, options);
    this.name = 'LayoutError';
    this.dir = dir;
    this.file = file;
  }
}

/**
 * The path of a blob relative to the layout directory (image-spec "blobs":
 * `blobs/<alg>/<encoded>`). Built only from a digest that passed
 * `parseDigest`, so it can hold no `..`, separator or other surprise.
 * Always `/`-separated (Node accepts `/` on every platform).
 */
export function blobFile(digest: ParsedDigest): string {
  return `blobs/${digest.algorithm}/${digest.encoded}`;
}

/** Whether `path` (resolved, absolute) is `root` or lies beneath it. */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

/**
 * Resolves symbolic links in `root/file` and checks that the result is still
 * inside `root` (itself already resolved). A symlink inside the layout that
 * points inside it is fine; one that leaves it is refused.
 */
export async function resolveInside(root: string, file: string, dir: string): Promise<string> {
  const real = await realpath(join(root, file));
  if (!isInside(root, real)) throw new LayoutError(dir, file, `is a symbolic link that leaves the layout directory (to ${real}): refused`);
  return real;
}

/** A short, readable description of a filesystem error. */
export function describeFsError(error: unknown): string {
  const err = error as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOENT': return 'does not exist';
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'ENOTDIR': return 'a path component is not a directory';
    case 'EISDIR': return 'is a directory, not a file';
    case 'ELOOP': return 'too many levels of symbolic links';
    case 'EEXIST': return 'already exists and is in the way';
    case 'ENOSPC': return 'no space left on device';
    default: return err.message ?? String(error);
  }
}

/**
 * Creates `root/parts[0]/parts[1]/…` one component at a time, checking after
 * each step that the directory, symbolic links resolved, is still inside
 * `root` (itself resolved), so that an existing link can never lead a write
 * out of it. Returns the resolved path.
 */
export async function makeDirInside(root: string, parts: readonly string[], dir: string): Promise<string> {
  let current = root;
  let rel = '';
  for (const part of parts) {
    rel = rel === '' ? part : join(rel, part);
    const next = join(current, part);
    try {
      await mkdir(next);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new LayoutError(dir, rel, `cannot create the directory: ${describeFsError(error)}`, { cause: error });
    }
    const info = await lstat(next);
    if (info.isSymbolicLink()) {
      const real = await realpath(next);
      if (!isInside(root, real)) throw new LayoutError(dir, rel, `is a symbolic link that leaves the directory (to ${real}): refused`);
      current = real;
    } else if (info.isDirectory()) {
      current = next;
    } else {
      throw new LayoutError(dir, rel, 'exists and is not a directory');
    }
  }
  return current;
}

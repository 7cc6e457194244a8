/**
 * What the core needs from object storage (S3 in production, an embedded
 * S3-compatible server in the sandbox) to keep environments' data.
 *
 * The data of an environment is kept as generations. A generation is one
 * consistent save of every server's data: one part per server (or one
 * `shared` part taken from server 0), then a manifest, written last. Only a
 * generation with a manifest exists: listing, wake, restore and retention
 * read manifests, never loose parts.
 *
 * Servers never hold credentials for the store: the bot hands each server
 * presigned URLs for exactly its own part of one generation, valid for as
 * long as the save or restore may take (see docs/data.md).
 *
 * Layout (under the configured prefix):
 *   environments/<environment id>/generations/<number, 6 digits>/
 *     server-<index>.archive  or  shared.archive   a tar stream, compressed (zstd or gzip)
 *     <part>.upload-urls            the part's presigned UploadPart URLs, one a line (while it uploads)
 *     manifest.json                 written last
 */

/** `server-0`, `server-1`, … or `shared` (one copy, from server 0, restored on every server). */
export type PartName = `server-${number}` | 'shared';

export type Compression = 'zstd' | 'gzip';

/** One part of a generation, as its manifest records it. */
export interface PartManifest {
  part: PartName;
  /** The object's key. */
  key: string;
  /** Size of the stored (compressed) object, in bytes. */
  bytes: number;
  /** SHA-256 (hex) of the stored object, computed by the server as it read its data. */
  sha256: string;
  compression: Compression;
  /** How many files, folders and links the archive holds (as the save script counted them). */
  entries?: number;
}

export type GenerationReason = 'sleep' | 'save' | 'destroy';

export interface GenerationManifest {
  /** Format of this document. */
  format: 1;
  environmentId: string;
  /** The environment's name when it was taken (names can be reused; the id cannot). */
  environment: string;
  generation: number;
  /** ISO time when the last part was stored. */
  createdAt: string;
  reason: GenerationReason;
  template: string;
  /** How many servers the environment had. */
  serverCount: number;
  shared: boolean;
  /** The data paths saved, relative to the server's data directory. */
  paths: readonly string[];
  parts: readonly PartManifest[];
  /** Total stored bytes (the sum of the parts). */
  bytes: number;
}

/** Identifies one part of one generation. Its key is `<part>.archive`: the compression is the server's choice, recorded in the manifest. */
export interface PartRef {
  environmentId: string;
  generation: number;
  part: PartName;
}

/** What a save script needs to upload one part: handed to the server, never stored in the environment's record. */
export interface PartUpload {
  uploadId: string;
  key: string;
  /** A presigned GET of the list of presigned UploadPart URLs (line n is part n). */
  partUrlsUrl: string;
  partBytes: number;
  maxParts: number;
  /** When the URLs stop working. */
  expiresAt: string;
}

/** What the save script reported for its part. */
export interface UploadedPart {
  bytes: number;
  sha256: string;
  compression: Compression;
  /** How many multipart parts it uploaded. */
  parts: number;
  entries?: number;
}

export interface DataStorePort {
  /**
   * Starts (or, given the `uploadId` of one started before, continues) the
   * multipart upload of one part: creates it, and stores the presigned
   * UploadPart URLs for parts 1..maxParts where the server can fetch them.
   */
  beginUpload(ref: PartRef, options: { expiresSeconds: number; existingUploadId?: string }): Promise<PartUpload>;
  /** Bytes uploaded so far (for progress while the server saves). */
  uploadedBytes(ref: PartRef, uploadId: string): Promise<number>;
  /**
   * Checks that parts 1..n are all there with the sizes the server reported,
   * completes the upload, and checks the stored object's size. Idempotent: a
   * part completed before (a resumed save) is checked again, not completed
   * twice. Throws DATA.PART_MISSING, DATA.SIZE_MISMATCH.
   */
  completeUpload(ref: PartRef, uploadId: string, reported: UploadedPart): Promise<PartManifest>;
  /** Gives up an upload; what it stored goes. Not an error when it is gone. */
  abortUpload(ref: PartRef, uploadId: string): Promise<void>;
  /** Writes the manifest, last: from then on the generation exists. */
  writeManifest(manifest: GenerationManifest): Promise<void>;
  /** Every generation of an environment that has a manifest, newest first. */
  listGenerations(environmentId: string): Promise<GenerationManifest[]>;
  getGeneration(environmentId: string, generation: number): Promise<GenerationManifest | undefined>;
  /** A presigned GET of a stored part, for a restore. */
  downloadUrl(part: PartManifest, expiresSeconds: number): Promise<string>;
  /**
   * What the store holds under a part's key (a HEAD, nothing downloaded):
   * absent, or its size in bytes. For the reconciler's data check.
   */
  inspectPart(part: PartManifest): Promise<{ exists: false } | { exists: true; bytes: number }>;
  /**
   * Removes what is not a generation: parts of generations without a
   * manifest (a failed or interrupted save) and their unfinished uploads,
   * except generation `keep` (a save under way). Returns how many objects went.
   */
  removeLeftovers(environmentId: string, keep?: number): Promise<number>;
  /** Removes a generation: its manifest first (so it stops existing at once), then its parts. */
  deleteGeneration(environmentId: string, generation: number): Promise<void>;
  /**
   * Records that the environment was destroyed and until when its data is
   * kept (`environments/<id>/kept.json`): the retention job reads these, so
   * retention holds even after the name is reused by another environment.
   */
  markKept(mark: KeptMark): Promise<void>;
  /** Every environment whose data is kept after a destroy. */
  listKept(): Promise<KeptMark[]>;
  /** Removes everything of an environment: generations first (manifests first), then the mark. Returns how many objects went. */
  purge(environmentId: string): Promise<number>;
}

/** The data of a destroyed environment, kept for `/server restore` until `keepUntil`. */
export interface KeptMark {
  environmentId: string;
  environment: string;
  destroyedAt: string;
  keepUntil: string;
  /** The generation a restore uses. */
  generation: number;
}

/**
 * oci-test-registry: an in-memory OCI / Docker registry for tests.
 * Everything public is exported from here and only here.
 */
export { startRegistry, createRegistry } from './registry.js';
export type { Registry, RunningRegistry } from './registry.js';
export { DEFAULT_OPTIONS } from './options.js';
export type { RegistryOptions, ResolvedOptions, TlsOptions } from './options.js';
export type { RegistryTls } from './tls/credentials.js';
export type { CertificatePair, Validity } from './tls/authority.js';
export type { RequestRecord, MountRecord, MountDeclineReason } from './http/record.js';
export type { AuthOptions } from './auth/authenticate.js';
export type { AccessRule, Scope, Action } from './auth/scope.js';
export type { FaultRule, FaultAction, FaultMatch, FaultHandle } from './control/faults.js';
export { Faults } from './control/faults.js';
export { PROFILES } from './control/profiles.js';
export type { Profile, ProfileBehaviour, ProfileName } from './control/profiles.js';
export type { AnswerKey, RegistryAnswer } from './api/answers.js';
export { RegistryError, ERROR_CODES } from './oci/errors.js';
export type { ErrorCode, RegistryErrorInit } from './oci/errors.js';
export { MemoryStore } from './store/memory.js';
export { SeedableStore } from './store/seeding.js';
export type { Bytes, Platform, ImageInput, IndexInput, ArtifactInput, SeededManifest } from './store/seeding.js';
export { Journal } from './control/journal.js';
export type { JournalEntry, JournalQuery } from './control/journal.js';
export { RegistryEvents } from './control/events.js';
export type { PushEvent, DeleteEvent, UploadEvent, RegistryEventMap, WaitQuery, WaitOptions, WaitErrorCode } from './control/events.js';
export type { EventSubscription, EventKind, SequencedEvent, SubscriptionListener } from './control/event-log.js';
export type { MemoryStoreOptions } from './store/memory.js';
export type {
  Store,
  StoredBlob,
  StoredManifest,
  ReferrerDescriptor,
  Page,
  PageRequest,
  ManifestPut,
  StorageUsage,
  StoreObserver,
  BlobContent,
  UploadSession,
} from './store/store.js';
export { computeDigest, parseDigest } from './oci/digest.js';
export type { DigestAlgorithm, ParsedDigest } from './oci/digest.js';
export { parseManifest } from './oci/manifest.js';
export type { Descriptor, ParsedManifest } from './oci/manifest.js';
export { MediaType } from './oci/media-types.js';
export { importLayout } from './layout/import.js';
export type { ImportLayoutOptions, LayoutImport, ImportedManifest } from './layout/import.js';
export { exportLayout, exportLayouts } from './layout/export.js';
export type { LayoutExport } from './layout/export.js';
export { LayoutError } from './layout/layout.js';
export { parseRefName } from './layout/ref-name.js';
export type { RefName } from './layout/ref-name.js';
export { checkClient, runCheck, commandClient } from './check/runner.js';
export type { CheckOptions, CheckReport, CheckTarget, ClientOutcome, ClientRun, ScenarioResult } from './check/runner.js';
export { scenarios, selectScenarios } from './check/scenarios.js';
export type { Scenario, Expectation } from './check/scenarios.js';
export { FINDING_RULES } from './check/findings.js';
export type { Finding, FindingRule, Severity } from './check/findings.js';
export { writeReports, formatTable, junitXml, reportJson } from './check/report.js';
export { renderHtml } from './check/html.js';

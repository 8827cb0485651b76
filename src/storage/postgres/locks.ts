/**
 * Advisory lock keys (pg_advisory_xact_lock(namespace, key)) for the work two masters must not do
 * at once on one database. The namespace keeps them apart from other applications' locks.
 */
export const LOCKS = {
  /** "nmm" */
  namespace: 0x6e6d6d,
  /** schema migrations (postgres/schema.ts) */
  migrate: 1,
  /** creating history partitions (postgres/partitions.ts) */
  partitions: 2,
  /** the retention cleanup (postgres/cleanup.ts), which drops partitions */
  cleanup: 3,
} as const

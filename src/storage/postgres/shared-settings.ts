import type { SQL } from 'bun'
import type { WriteStoreSettings } from '../store'

/**
 * The settings every master writing one database must share: another SAMPLE_INTERVAL mixes bucket
 * widths in the raw tier, a shorter RETENTION drops the others' partitions. Each master records its
 * own at start and says so loudly when the last one recorded differs — in a rolling change the
 * masters still on the old value are the ones to restart.
 */
const SHARED: { name: string; env: string; of: (settings: WriteStoreSettings) => number }[] = [
  { name: 'sample_interval_ms', env: 'SAMPLE_INTERVAL', of: (settings) => settings.sampleIntervalMs },
  { name: 'retention_ms', env: 'RETENTION', of: (settings) => settings.retentionMs },
  { name: 'retention_hourly_ms', env: 'RETENTION_HOURLY', of: (settings) => settings.retentionHourlyMs },
]

/** Records this master's settings; returns a line per setting another master recorded differently. */
export async function recordSharedSettings(sql: SQL, settings: WriteStoreSettings): Promise<string[]> {
  return sql.begin(async (tx) => {
    const rows: { name: string; value: number }[] = await tx`SELECT name, value FROM master_settings FOR UPDATE`
    const recorded = new Map(rows.map((row) => [row.name, Number(row.value)]))
    const differences: string[] = []
    for (const { name, env, of } of SHARED) {
      const mine = of(settings)
      const theirs = recorded.get(name)
      if (theirs !== undefined && theirs !== mine) {
        differences.push(`${env} is ${mine} ms here but ${theirs} ms at the master that started before: masters sharing one database must use the same ${env}`)
      }
      await tx`INSERT INTO master_settings (name, value) VALUES (${name}, ${mine}) ON CONFLICT (name) DO UPDATE SET value = excluded.value`
    }
    return differences
  })
}

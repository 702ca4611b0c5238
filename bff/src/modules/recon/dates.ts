/** Business days are Beijing dates, `YYYY-MM-DD`; the day runs from 00:00 to 24:00 at UTC+8 (no DST). */
const DAY_MS = 86_400_000;
const BEIJING_MS = 8 * 3_600_000;

export function isBusinessDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** [start, end) of a Beijing day as instants. */
export function beijingDayRange(date: string): { start: Date; end: Date } {
  const start = new Date(Date.parse(`${date}T00:00:00Z`) - BEIJING_MS);
  return { start, end: new Date(start.getTime() + DAY_MS) };
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** The Beijing date an instant falls on. */
export function beijingDate(at: Date): string {
  return new Date(at.getTime() + BEIJING_MS).toISOString().slice(0, 10);
}

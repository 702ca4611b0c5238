/** A JSON value as staff read it (payloads are masked by the server before they are stored). */
export function Json({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span style={{ color: '#999' }}>（无）</span>;
  return <pre className="hp-json">{typeof value === 'string' ? value : JSON.stringify(value, null, 2)}</pre>;
}

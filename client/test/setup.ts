// Build-time constants of config/index.ts, as the H5 build sets them.
(globalThis as Record<string, unknown>).HP_API_BASE = '';
(globalThis as Record<string, unknown>).HP_HOSPITAL_CODE = 'H001';

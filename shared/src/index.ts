export * from './money';
export * from './errors';
export * from './statuses';
export * from './contracts';

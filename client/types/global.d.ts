/// <reference types="@tarojs/taro" />

declare module '*.css';

/** Build-time constants (config/index.ts defineConstants). */
declare const HP_API_BASE: string;
declare const HP_HOSPITAL_CODE: string;

declare namespace NodeJS {
  interface ProcessEnv {
    /** Set by Taro at build time: the target platform. */
    TARO_ENV: 'weapp' | 'h5' | undefined;
  }
}

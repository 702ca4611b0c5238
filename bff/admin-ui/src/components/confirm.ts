import type { App, ModalFuncProps } from 'antd';

/**
 * Asks in a confirmation dialog (the `modal` of antd's `App.useApp()`); resolves true when confirmed, false
 * when cancelled.
 */
export function confirmed(
  modal: ReturnType<typeof App.useApp>['modal'],
  props: Omit<ModalFuncProps, 'onOk' | 'onCancel'>,
): Promise<boolean> {
  return new Promise((resolve) =>
    modal.confirm({ ...props, onOk: () => resolve(true), onCancel: () => resolve(false) }),
  );
}

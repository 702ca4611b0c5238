import { useCallback, useRef, useState } from 'react';
import { messageOf } from './api';

/** Loads a page's data with loading and error states; `reload` for retry and pull-to-refresh. */
export function useLoad<T>(load: () => Promise<T>) {
  const [state, setState] = useState<{ loading: boolean; error?: string; data?: T }>({ loading: true });
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(async () => {
    setState((s) => ({ ...s, loading: true, error: undefined }));
    try {
      const data = await loadRef.current();
      setState({ loading: false, data });
    } catch (e) {
      setState((s) => ({ ...s, loading: false, error: messageOf(e) }));
    }
  }, []);
  return { ...state, reload, setData: (data: T) => setState({ loading: false, data }) };
}

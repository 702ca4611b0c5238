import { useEffect, useState } from 'react';
import { api } from './api';

export interface Hospital {
  id: string;
  code: string;
  name: string;
  createdAt: string;
}

let cache: Promise<Hospital[]> | undefined;

/** Hospitals the admin may see (cached for the page's life). */
export function useHospitals(): Hospital[] {
  const [list, setList] = useState<Hospital[]>([]);
  useEffect(() => {
    cache ??= api<{ items: Hospital[] }>('GET', '/hospitals').then(
      (r) => r.items,
      () => {
        cache = undefined;
        return [];
      },
    );
    let live = true;
    void cache.then((h) => live && setList(h));
    return () => {
      live = false;
    };
  }, []);
  return list;
}

/** The name of a hospital id, or the id while names load. */
export function hospitalName(list: Hospital[], id: string | null | undefined): string {
  if (!id) return '-';
  return list.find((h) => h.id === id)?.name ?? id;
}

/** The 医院 column of a list, only for an admin who sees more than one hospital. */
export function hospitalColumn(list: Hospital[]) {
  return list.length > 1
    ? [{ title: '医院', dataIndex: 'hospitalId', render: (h: string | null) => hospitalName(list, h) }]
    : [];
}

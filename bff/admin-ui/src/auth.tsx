import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { currentUser, loadMe, onSessionChange, type Me } from './api';

interface Auth {
  user: Me | null;
  /** Whether the user's role holds this permission (the API enforces it anyway). */
  can(permission: string): boolean;
}

const AuthContext = createContext<Auth>({ user: null, can: () => false });

/** Holds the logged-in admin; follows logins, refreshes and logouts of every tab. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<Me | null>(currentUser);
  useEffect(() => onSessionChange(setUser), []);
  useEffect(() => {
    // The role may have changed since the session was stored: ask the server once per page load.
    if (currentUser()) loadMe().catch(() => undefined);
  }, []);
  const can = (p: string) => !!user?.permissions.includes(p);
  return <AuthContext.Provider value={{ user, can }}>{children}</AuthContext.Provider>;
}

export const useAuth = () => useContext(AuthContext);

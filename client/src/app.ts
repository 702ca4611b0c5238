import type { PropsWithChildren } from 'react';
import './app.css';

/** The app shell: pages do their own loading; nothing global to fetch before the first screen. */
function App({ children }: PropsWithChildren) {
  return children;
}

export default App;

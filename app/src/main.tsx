import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { loadConfig } from './lib/config';
import { ChainContext, makeChain, type Chain } from './lib/chain';
import { WalletBar, WalletProvider } from './lib/wallet';
import { ChainClock } from './hooks/accounts';
import { Marketplace } from './pages/Marketplace';
import { Deploy } from './pages/Deploy';
import { MyJobs, JobPage } from './pages/Jobs';
import { Explorer } from './pages/Explorer';
import { Supplier } from './pages/Supplier';
import { Governance } from './pages/Governance';
import './styles.css';

/** The page the location hash names: #/deploy, #/jobs, #/jobs/<address>, #/supplier, #/governance, #/explorer. */
function useRoute(): string[] {
  const read = () => window.location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

const PAGES = [
  ['', 'Marketplace'],
  ['deploy', 'Deploy'],
  ['jobs', 'My jobs'],
  ['supplier', 'Supplier'],
  ['governance', 'Governance'],
  ['explorer', 'Explorer'],
] as const;

function Page({ route }: { route: string[] }) {
  switch (route[0]) {
    case 'deploy':
      return <Deploy />;
    case 'jobs':
      return route[1] ? <JobPage address={route[1]} /> : <MyJobs />;
    case 'supplier':
      return <Supplier />;
    case 'governance':
      return <Governance />;
    case 'explorer':
      return <Explorer />;
    default:
      return <Marketplace />;
  }
}

function Shell({ chain }: { chain: Chain }) {
  const route = useRoute();
  return (
    <ChainContext.Provider value={chain}>
      <WalletProvider>
        <ChainClock>
          <header>
            <a className="brand" href="#/">
              iogrid
            </a>
            <nav>
              {PAGES.map(([path, label]) => (
                <a key={path} href={`#/${path}`} className={(route[0] ?? '') === path ? 'active' : ''}>
                  {label}
                </a>
              ))}
            </nav>
            <span className="cluster" title={chain.config.rpcUrl}>
              {chain.config.chain.replace('solana:', '')}
            </span>
            <WalletBar />
          </header>
          <main>
            <Page route={route} />
          </main>
        </ChainClock>
      </WalletProvider>
    </ChainContext.Provider>
  );
}

function App() {
  const [chain, setChain] = useState<Chain | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    loadConfig()
      .then((config) => setChain(makeChain(config)))
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)));
  }, []);
  if (error) return <p className="problem">{error}</p>;
  if (!chain) return <p className="muted">Loading…</p>;
  return <Shell chain={chain} />;
}

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

// Wallets through wallet-standard only: any installed wallet that supports
// this cluster's chain and `solana:signTransaction` can connect; the
// console never sees a key.
import { createContext, useContext, type ReactNode } from 'react';
import { useConnect, useDisconnect, type UiWallet, type UiWalletAccount } from '@wallet-standard/react';
import {
  SelectedWalletAccountContextProvider,
  useSelectedWalletAccount,
  useWalletAccountTransactionSigner,
} from '@solana/react';
import type { Address, TransactionSigner } from '@solana/kit';
import { useChain } from './chain';
import { shortAddress } from './units';

const STORAGE_KEY = 'iogrid:selected-wallet-account';

export function WalletProvider({ children }: { children: ReactNode }) {
  const { config } = useChain();
  return (
    <SelectedWalletAccountContextProvider
      filterWallets={(wallet) =>
        wallet.chains.includes(config.chain) && wallet.features.includes('solana:signTransaction')
      }
      stateSync={{
        getSelectedWallet: () => localStorage.getItem(STORAGE_KEY),
        storeSelectedWallet: (key) => localStorage.setItem(STORAGE_KEY, key),
        deleteSelectedWallet: () => localStorage.removeItem(STORAGE_KEY),
      }}
    >
      <SignerProvider>{children}</SignerProvider>
    </SelectedWalletAccountContextProvider>
  );
}

export type Signer = { address: Address; signer: TransactionSigner; account: UiWalletAccount };
const SignerContext = createContext<Signer | null>(null);

/** The connected account and its transaction signer, or null. */
export function useSigner(): Signer | null {
  return useContext(SignerContext);
}

function SignerProvider({ children }: { children: ReactNode }) {
  const [account] = useSelectedWalletAccount();
  if (!account) return <SignerContext.Provider value={null}>{children}</SignerContext.Provider>;
  return <AccountSigner account={account}>{children}</AccountSigner>;
}

function AccountSigner({ account, children }: { account: UiWalletAccount; children: ReactNode }) {
  const { config } = useChain();
  const signer = useWalletAccountTransactionSigner(account, config.chain);
  const value = { address: account.address as Address, signer, account };
  return <SignerContext.Provider value={value}>{children}</SignerContext.Provider>;
}

/** The header's wallet control: connect one of the wallets found, or show
 * the connected account with a disconnect button. */
export function WalletBar() {
  const [account, setAccount, wallets] = useSelectedWalletAccount();
  const { config } = useChain();
  if (account) {
    const wallet = wallets.find((w) => w.accounts.some((a) => a.address === account.address));
    return (
      <div className="wallet" data-testid="wallet">
        <span title={account.address}>{shortAddress(account.address)}</span>
        {wallet && <Disconnect wallet={wallet} onDone={() => setAccount(undefined)} />}
      </div>
    );
  }
  if (wallets.length === 0) {
    return (
      <div className="wallet muted">
        No wallet for {config.chain} found: install a wallet-standard Solana wallet.
      </div>
    );
  }
  return (
    <div className="wallet">
      {wallets.map((wallet) => (
        <Connect key={wallet.name} wallet={wallet} onConnected={setAccount} />
      ))}
    </div>
  );
}

function Connect({ wallet, onConnected }: { wallet: UiWallet; onConnected: (a: UiWalletAccount) => void }) {
  const [connecting, connect] = useConnect(wallet);
  return (
    <button
      disabled={connecting}
      onClick={async () => {
        const accounts = await connect().catch(() => []);
        if (accounts[0]) onConnected(accounts[0]);
      }}
    >
      {wallet.icon && <img src={wallet.icon} alt="" width={16} height={16} />}
      {connecting ? 'Connecting…' : `Connect ${wallet.name}`}
    </button>
  );
}

function Disconnect({ wallet, onDone }: { wallet: UiWallet; onDone: () => void }) {
  const [busy, disconnect] = useDisconnect(wallet);
  return (
    <button
      className="secondary"
      disabled={busy}
      onClick={async () => {
        await disconnect().catch(() => undefined);
        onDone();
      }}
    >
      Disconnect
    </button>
  );
}

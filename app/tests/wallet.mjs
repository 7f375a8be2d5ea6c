// A wallet-standard wallet for browser tests. The page gets a wallet that
// registers itself the way installed wallets do; its signTransaction asks
// this Node process, which holds the key and signs with @solana/kit. The
// key never enters the page. `wallet.rejecting = true` makes it decline,
// as a user pressing "Reject" would.
import {
  createKeyPairFromBytes,
  getAddressFromPublicKey,
  getBase64Decoder,
  getBase64Encoder,
  getTransactionDecoder,
  getTransactionEncoder,
  partiallySignTransaction,
} from '@solana/kit';
import { readFileSync } from 'node:fs';

export async function installTestWallet(page, keypairPath, chain) {
  const bytes = new Uint8Array(JSON.parse(readFileSync(keypairPath, 'utf8')));
  const keyPair = await createKeyPairFromBytes(bytes);
  const address = await getAddressFromPublicKey(keyPair.publicKey);
  const wallet = { address, rejecting: false, signed: 0, asked: 0 };
  await page.exposeFunction('iogridTestWalletSign', async (base64) => {
    wallet.asked++;
    if (wallet.rejecting) throw new Error('User rejected the request.');
    const transaction = getTransactionDecoder().decode(getBase64Encoder().encode(base64));
    const signed = await partiallySignTransaction([keyPair], transaction);
    wallet.signed++;
    return getBase64Decoder().decode(getTransactionEncoder().encode(signed));
  });
  await page.addInitScript(registerInPage, { address, publicKey: [...bytes.slice(32)], chain });
  return wallet;
}

// Runs in the page before its scripts: the wallet-standard registration
// protocol (wallet-standard:register-wallet / app-ready events).
function registerInPage({ address, publicKey, chain }) {
  const toBase64 = (bytes) => btoa(String.fromCharCode(...bytes));
  const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const features = ['solana:signTransaction'];
  const account = Object.freeze({ address, publicKey: new Uint8Array(publicKey), chains: [chain], features, label: 'test' });
  let connected = false;
  const listeners = new Set();
  // Wallet-standard apps learn of account changes from 'change' events.
  const changed = () => listeners.forEach((listener) => listener({ accounts: wallet.accounts }));
  const wallet = {
    version: '1.0.0',
    name: 'iogrid test wallet',
    icon: 'data:image/svg+xml;base64,' + btoa('<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect width="16" height="16" fill="#4c3ee8"/></svg>'),
    chains: [chain],
    get accounts() {
      return connected ? [account] : [];
    },
    features: {
      'standard:connect': {
        version: '1.0.0',
        connect: async () => {
          connected = true;
          changed();
          return { accounts: [account] };
        },
      },
      'standard:disconnect': {
        version: '1.0.0',
        disconnect: async () => {
          connected = false;
          changed();
        },
      },
      'standard:events': {
        version: '1.0.0',
        on: (event, listener) => {
          if (event !== 'change') return () => {};
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
      },
      'solana:signTransaction': {
        version: '1.0.0',
        supportedTransactionVersions: ['legacy', 0],
        signTransaction: async (...inputs) =>
          Promise.all(
            inputs.map(async ({ transaction }) => ({
              signedTransaction: fromBase64(await window.iogridTestWalletSign(toBase64(transaction))),
            })),
          ),
      },
    },
  };
  const register = ({ register }) => register(wallet);
  try {
    window.dispatchEvent(new CustomEvent('wallet-standard:register-wallet', { detail: register }));
  } catch (error) {
    console.error('wallet registration failed', error);
  }
  window.addEventListener('wallet-standard:app-ready', ({ detail }) => register(detail));
}

// One hook per write: build the transaction, have the wallet sign it, send
// it, wait for confirmation, and say what went wrong in the user's words.
import { useCallback, useState } from 'react';
import {
  appendTransactionMessageInstructions,
  assertIsTransactionWithBlockhashLifetime,
  createTransactionMessage,
  getSignatureFromTransaction,
  pipe,
  sendAndConfirmTransactionFactory,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
  type Instruction,
  type TransactionSigner,
} from '@solana/kit';
import { useChain } from '../lib/chain';
import { describeTransactionError, isWalletRejection } from '../lib/errors';

export type SendState =
  | { step: 'idle' }
  | { step: 'preparing'; what: string }
  | { step: 'signing'; what: string }
  | { step: 'confirming'; what: string; signature: string }
  | { step: 'confirmed'; what: string; signature: string; ms: number }
  | { step: 'failed'; what: string; error: string };

export type Sender = {
  state: SendState;
  /** Sends one transaction; resolves with its signature, or null when it failed (state says why). */
  send: (what: string, instructions: () => Promise<Instruction[]>) => Promise<string | null>;
  reset: () => void;
};

export function useSender(signer: TransactionSigner | null): Sender {
  const { rpc, subscriptions, programId } = useChain();
  const [state, setState] = useState<SendState>({ step: 'idle' });
  const send = useCallback(
    async (what: string, build: () => Promise<Instruction[]>) => {
      if (!signer) {
        setState({ step: 'failed', what, error: 'Connect a wallet first.' });
        return null;
      }
      let programs: string[] = [];
      try {
        setState({ step: 'preparing', what });
        const instructions = await build();
        programs = instructions.map((ix) => ix.programAddress);
        const { value: blockhash } = await rpc.getLatestBlockhash({ commitment: 'confirmed' }).send();
        const message = pipe(
          createTransactionMessage({ version: 0 }),
          (m) => setTransactionMessageFeePayerSigner(signer, m),
          (m) => setTransactionMessageLifetimeUsingBlockhash(blockhash, m),
          (m) => appendTransactionMessageInstructions(instructions, m),
        );
        setState({ step: 'signing', what });
        const signed = await signTransactionMessageWithSigners(message);
        assertIsTransactionWithBlockhashLifetime(signed);
        const signature = getSignatureFromTransaction(signed);
        const started = performance.now();
        setState({ step: 'confirming', what, signature });
        await sendAndConfirmTransactionFactory({ rpc, rpcSubscriptions: subscriptions })(signed, {
          commitment: 'confirmed',
        });
        setState({ step: 'confirmed', what, signature, ms: Math.round(performance.now() - started) });
        return signature;
      } catch (err) {
        if (!isWalletRejection(err)) console.error(err);
        setState({ step: 'failed', what, error: describeTransactionError(err, programs as never, programId) });
        return null;
      }
    },
    [rpc, subscriptions, programId, signer],
  );
  const reset = useCallback(() => setState({ step: 'idle' }), []);
  return { state, send, reset };
}

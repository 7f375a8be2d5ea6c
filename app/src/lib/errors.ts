// Every failure in the user's words: wallet refusals, the program's own
// errors (its messages from the IDL), token and fee shortfalls, RPC trouble.
import {
  isSolanaError,
  SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM,
  SOLANA_ERROR__TRANSACTION_ERROR__INSUFFICIENT_FUNDS_FOR_FEE,
  SOLANA_ERROR__TRANSACTION_ERROR__ACCOUNT_NOT_FOUND,
  SOLANA_ERROR__BLOCK_HEIGHT_EXCEEDED,
  type Address,
} from '@solana/kit';
import { getIogridErrorMessage, type IogridError } from '../../client/src/generated';
import { TOKEN_PROGRAM } from './chain';

/** The program (by instruction index) that failed, for custom error codes. */
export type InstructionPrograms = readonly Address[];

/** SPL Token's error codes that users meet. */
const TOKEN_ERRORS: Record<number, string> = {
  1: 'Your wallet does not hold enough IO for this.',
  4: 'The IO account is not owned by your wallet.',
};

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = err;
  while (current && chain.length < 8) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

export function isWalletRejection(err: unknown): boolean {
  return causes(err).some((e) => {
    const code = (e as { code?: unknown }).code;
    const text = e instanceof Error ? `${e.name} ${e.message}` : String(e);
    return code === 4001 || /reject|declin|denied|cancel/i.test(text);
  });
}

/** What to tell the user about a failed transaction. */
export function describeTransactionError(err: unknown, programs: InstructionPrograms, programId: Address): string {
  if (isWalletRejection(err)) return 'You declined the request in your wallet. Nothing was sent.';
  for (const e of causes(err)) {
    if (isSolanaError(e, SOLANA_ERROR__INSTRUCTION_ERROR__CUSTOM)) {
      const { code, index } = e.context as { code: number; index: number };
      const program = programs[index];
      if (program === programId) {
        const message = getIogridErrorMessage(code as IogridError);
        if (message) return `The iogrid program refused: ${message}`;
      }
      if (program === programId && code < 6000) {
        return `The iogrid program refused the accounts it was given (framework error ${code}). This is a console bug: please report it.`;
      }
      if (program === TOKEN_PROGRAM && TOKEN_ERRORS[code]) return TOKEN_ERRORS[code];
      return `The transaction failed with error ${code} in instruction ${index + 1}.`;
    }
    if (isSolanaError(e, SOLANA_ERROR__TRANSACTION_ERROR__INSUFFICIENT_FUNDS_FOR_FEE)) {
      return 'Your wallet has no SOL to pay the network fee.';
    }
    if (isSolanaError(e, SOLANA_ERROR__TRANSACTION_ERROR__ACCOUNT_NOT_FOUND)) {
      return 'Your wallet account does not exist on this cluster yet: fund it with SOL first.';
    }
    if (isSolanaError(e, SOLANA_ERROR__BLOCK_HEIGHT_EXCEEDED)) {
      return 'The transaction expired before it was confirmed. Nothing was charged; try again.';
    }
  }
  const text = err instanceof Error ? err.message : String(err);
  if (/fetch|network|socket/i.test(text)) return `The cluster could not be reached (${text}).`;
  return `The transaction failed: ${text}`;
}

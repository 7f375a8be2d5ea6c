// The cluster the console talks to: RPC and websocket clients made once
// from the server's configuration and shared through React context.
import { createContext, useContext } from 'react';
import {
  createSolanaRpc,
  createSolanaRpcSubscriptions,
  getAddressEncoder,
  getProgramDerivedAddress,
  address,
  type Address,
  type Rpc,
  type RpcSubscriptions,
  type SolanaRpcApi,
  type SolanaRpcSubscriptionsApi,
} from '@solana/kit';
import type { ConsoleConfig } from './config';

export type Chain = {
  config: ConsoleConfig;
  programId: Address;
  rpc: Rpc<SolanaRpcApi>;
  subscriptions: RpcSubscriptions<SolanaRpcSubscriptionsApi>;
};

export function makeChain(config: ConsoleConfig): Chain {
  return {
    config,
    programId: address(config.programId),
    rpc: createSolanaRpc(config.rpcUrl),
    subscriptions: createSolanaRpcSubscriptions(config.wsUrl),
  };
}

export const ChainContext = createContext<Chain | null>(null);

export function useChain(): Chain {
  const chain = useContext(ChainContext);
  if (!chain) throw new Error('useChain outside ChainContext');
  return chain;
}

export const TOKEN_PROGRAM = address('TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA');
const ASSOCIATED_TOKEN_PROGRAM = address('ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL');

/** The owner's associated IO account (sdk::token::io_account_of). */
export async function ioAccountOf(owner: Address, mint: Address): Promise<Address> {
  const encoder = getAddressEncoder();
  const [ata] = await getProgramDerivedAddress({
    programAddress: ASSOCIATED_TOKEN_PROGRAM,
    seeds: [encoder.encode(owner), encoder.encode(TOKEN_PROGRAM), encoder.encode(mint)],
  });
  return ata;
}

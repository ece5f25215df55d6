/** Who a request is, and what it may do (mount checks pull on `from` with it). */
export interface Principal {
  user: string | undefined;
  can(action: 'pull' | 'push' | 'delete', name: string): boolean;
}

/** Everyone may do everything: the registry without `auth`. */
export const NOBODY_CHECKS: Principal = { user: undefined, can: () => true };

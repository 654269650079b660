-- Data model, part 2: tenants, users, user groups, memberships, invitations,
-- API keys and the standalone-mode wallet (seed 003 §7.0, §7.9.4-§7.9.12).

-- §7.9.6: user groups, the policy scope for discounts, limits and quotas.
CREATE TABLE aigw.gateway_user_groups (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  group_key text NOT NULL,
  name text NOT NULL,
  description text,
  source text NOT NULL DEFAULT 'gateway',
  priority int NOT NULL DEFAULT 100,
  recharge_discount_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  billing_discount_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  rate_limit_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  quota_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  status text NOT NULL DEFAULT 'active',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uniq_gateway_user_groups_group_key UNIQUE (group_key),
  CONSTRAINT gateway_user_groups_source_check CHECK (source IN ('gateway', 'server-main', 'sync')),
  CONSTRAINT gateway_user_groups_status_check CHECK (status IN ('active', 'disabled'))
);

-- §7.9.4: tenants, the isolation domain.
CREATE TABLE aigw.gateway_tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_key text NOT NULL,
  source text NOT NULL DEFAULT 'gateway',
  external_tenant_id text,
  name text NOT NULL,
  description text,
  default_user_group_id uuid REFERENCES aigw.gateway_user_groups (id) ON DELETE SET NULL,
  plan_key text,
  billing_profile jsonb NOT NULL DEFAULT '{}'::jsonb,
  rate_limit_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  auth_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  status text NOT NULL DEFAULT 'active',
  synced_at timestamptz,
  source_updated_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  CONSTRAINT uniq_gateway_tenants_tenant_key UNIQUE (tenant_key),
  CONSTRAINT gateway_tenants_source_check CHECK (source IN ('gateway', 'server-main', 'sync')),
  CONSTRAINT gateway_tenants_status_check CHECK (status IN ('active', 'disabled', 'locked', 'deleted'))
);
CREATE UNIQUE INDEX uniq_gateway_tenants_source_external ON aigw.gateway_tenants (source, external_tenant_id);
CREATE INDEX idx_gateway_tenants_status ON aigw.gateway_tenants (status, created_at);

-- §7.9.5: users, local facts (standalone) or synced copies (server-main).
CREATE TABLE aigw.gateway_users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_key text NOT NULL,
  source text NOT NULL DEFAULT 'gateway',
  external_user_id text,
  username text NOT NULL,
  display_name text,
  email text,
  phone text,
  avatar_url text,
  password_hash text,
  gateway_tenant_id uuid REFERENCES aigw.gateway_tenants (id),
  tenant_id text,
  tenant_key text,
  default_user_group_id uuid REFERENCES aigw.gateway_user_groups (id) ON DELETE SET NULL,
  roles jsonb NOT NULL DEFAULT '[]'::jsonb,
  auth_profile jsonb NOT NULL DEFAULT '{}'::jsonb,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  status text NOT NULL DEFAULT 'active',
  last_login_at timestamptz,
  synced_at timestamptz,
  source_updated_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  CONSTRAINT uniq_gateway_users_user_key UNIQUE (user_key),
  CONSTRAINT gateway_users_source_check CHECK (source IN ('gateway', 'server-main', 'sync')),
  CONSTRAINT gateway_users_status_check CHECK (status IN ('active', 'disabled', 'locked', 'deleted')),
  CONSTRAINT gateway_users_roles_check CHECK (jsonb_typeof(roles) = 'array')
);
CREATE UNIQUE INDEX uniq_gateway_users_source_external ON aigw.gateway_users (source, external_user_id);
CREATE INDEX idx_gateway_users_status ON aigw.gateway_users (status, created_at);
CREATE INDEX idx_gateway_users_tenant ON aigw.gateway_users (tenant_id, tenant_key, status);
CREATE INDEX idx_gateway_users_gateway_tenant ON aigw.gateway_users (gateway_tenant_id);

-- §7.9.7: who belongs to which group (a user, tenant, API key or organisation).
CREATE TABLE aigw.gateway_user_group_memberships (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  group_id uuid NOT NULL REFERENCES aigw.gateway_user_groups (id) ON DELETE CASCADE,
  principal_type text NOT NULL,
  principal_id text NOT NULL,
  source text NOT NULL DEFAULT 'gateway',
  priority int NOT NULL DEFAULT 100,
  effective_from timestamptz,
  effective_to timestamptz,
  status text NOT NULL DEFAULT 'active',
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uniq_user_group_membership UNIQUE (group_id, principal_type, principal_id),
  CONSTRAINT gateway_user_group_memberships_principal_check CHECK (principal_type IN
    ('user', 'tenant', 'api_key', 'organization')),
  CONSTRAINT gateway_user_group_memberships_source_check CHECK (source IN ('gateway', 'server-main', 'sync')),
  CONSTRAINT gateway_user_group_memberships_status_check CHECK (status IN ('active', 'disabled')),
  CONSTRAINT gateway_user_group_memberships_period_check CHECK (effective_to IS NULL OR effective_from IS NULL
                                                                OR effective_to > effective_from)
);
CREATE INDEX idx_user_group_membership_principal
  ON aigw.gateway_user_group_memberships (principal_type, principal_id, status);
CREATE INDEX idx_user_group_membership_effective
  ON aigw.gateway_user_group_memberships (effective_from, effective_to);

-- §7.9.8: registration invitation codes.
CREATE TABLE aigw.gateway_tenant_invitations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES aigw.gateway_tenants (id) ON DELETE CASCADE,
  invite_code text NOT NULL,
  role text NOT NULL DEFAULT 'user',
  user_group_id uuid REFERENCES aigw.gateway_user_groups (id) ON DELETE SET NULL,
  max_uses int,
  used_count int NOT NULL DEFAULT 0,
  expires_at timestamptz,
  status text NOT NULL DEFAULT 'active',
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uniq_gateway_tenant_invitations_code UNIQUE (invite_code),
  CONSTRAINT gateway_tenant_invitations_status_check CHECK (status IN ('active', 'disabled')),
  CONSTRAINT gateway_tenant_invitations_uses_check CHECK (used_count >= 0 AND (max_uses IS NULL
                                                          OR (max_uses > 0 AND used_count <= max_uses)))
);
CREATE INDEX idx_gateway_tenant_invitations_tenant ON aigw.gateway_tenant_invitations (tenant_id, status);

-- §7.9.9: local API keys; only the SHA-256 of the secret is kept.
CREATE TABLE aigw.gateway_api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  gateway_tenant_id uuid REFERENCES aigw.gateway_tenants (id),
  gateway_user_id uuid NOT NULL REFERENCES aigw.gateway_users (id) ON DELETE CASCADE,
  key_prefix text NOT NULL,
  key_hash text NOT NULL,
  name text NOT NULL,
  scopes jsonb NOT NULL DEFAULT '[]'::jsonb,
  user_group_id uuid REFERENCES aigw.gateway_user_groups (id) ON DELETE SET NULL,
  rate_limit_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  quota_policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  status text NOT NULL DEFAULT 'active',
  expires_at timestamptz,
  last_used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uniq_gateway_api_keys_hash UNIQUE (key_hash),
  CONSTRAINT gateway_api_keys_status_check CHECK (status IN ('active', 'disabled', 'revoked'))
);
CREATE INDEX idx_gateway_api_keys_user ON aigw.gateway_api_keys (gateway_user_id, status);
CREATE INDEX idx_gateway_api_keys_tenant ON aigw.gateway_api_keys (gateway_tenant_id);

-- §7.9.10: wallet accounts (standalone mode), one per owner and currency.
CREATE TABLE aigw.gateway_wallet_accounts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  gateway_tenant_id uuid REFERENCES aigw.gateway_tenants (id),
  gateway_user_id uuid REFERENCES aigw.gateway_users (id),
  currency text NOT NULL DEFAULT 'resource',
  balance numeric NOT NULL DEFAULT 0,
  frozen_balance numeric NOT NULL DEFAULT 0,
  total_recharged numeric NOT NULL DEFAULT 0,
  total_spent numeric NOT NULL DEFAULT 0,
  status text NOT NULL DEFAULT 'active',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT gateway_wallet_accounts_owner_check CHECK (gateway_tenant_id IS NOT NULL OR gateway_user_id IS NOT NULL),
  CONSTRAINT gateway_wallet_accounts_currency_check
    CHECK (aigw.is_wallet_currency(currency)),
  CONSTRAINT gateway_wallet_accounts_amounts_check CHECK (aigw.are_nonnegative(balance, frozen_balance,
                                                                                    total_recharged, total_spent)),
  CONSTRAINT gateway_wallet_accounts_status_check CHECK (aigw.is_wallet_status(status))
);
CREATE UNIQUE INDEX uniq_gateway_wallet_owner_currency
  ON aigw.gateway_wallet_accounts (gateway_tenant_id, gateway_user_id, currency) NULLS NOT DISTINCT;
CREATE INDEX idx_gateway_wallet_accounts_user ON aigw.gateway_wallet_accounts (gateway_user_id);

-- §7.9.11: wallet ledger; every balance change writes one row.
CREATE TABLE aigw.gateway_wallet_transactions (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  account_id uuid NOT NULL REFERENCES aigw.gateway_wallet_accounts (id),
  direction text NOT NULL,
  transaction_type text NOT NULL,
  amount numeric NOT NULL,
  balance_before numeric NOT NULL,
  balance_after numeric NOT NULL,
  frozen_before numeric NOT NULL DEFAULT 0,
  frozen_after numeric NOT NULL DEFAULT 0,
  idempotency_key text,
  reference_type text,
  reference_id text,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT gateway_wallet_transactions_direction_check
    CHECK (aigw.is_wallet_direction(direction)),
  CONSTRAINT gateway_wallet_transactions_type_check
    CHECK (aigw.is_wallet_transaction_type(transaction_type)),
  CONSTRAINT gateway_wallet_transactions_amount_check CHECK (amount >= 0)
);
CREATE UNIQUE INDEX uniq_gateway_wallet_tx_idempotency
  ON aigw.gateway_wallet_transactions (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX idx_gateway_wallet_tx_account ON aigw.gateway_wallet_transactions (account_id, created_at DESC);
CREATE INDEX idx_gateway_wallet_tx_reference ON aigw.gateway_wallet_transactions (reference_type, reference_id);

-- §7.9.12: recharge orders (standalone mode).
CREATE TABLE aigw.gateway_recharge_orders (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  gateway_tenant_id uuid REFERENCES aigw.gateway_tenants (id),
  gateway_user_id uuid REFERENCES aigw.gateway_users (id),
  amount numeric NOT NULL,
  bonus_amount numeric NOT NULL DEFAULT 0,
  payable_amount numeric NOT NULL,
  currency text NOT NULL DEFAULT 'resource',
  channel text NOT NULL DEFAULT 'manual',
  status text NOT NULL DEFAULT 'created',
  external_order_id text,
  idempotency_key text,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  paid_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT gateway_recharge_orders_owner_check CHECK (gateway_tenant_id IS NOT NULL OR gateway_user_id IS NOT NULL),
  CONSTRAINT gateway_recharge_orders_amounts_check CHECK (amount > 0 AND bonus_amount >= 0 AND payable_amount >= 0),
  CONSTRAINT gateway_recharge_orders_currency_check CHECK (currency IN ('resource', 'credit', 'cny', 'usd')),
  CONSTRAINT gateway_recharge_orders_channel_check CHECK (channel IN ('manual', 'wechat', 'alipay', 'stripe')),
  CONSTRAINT gateway_recharge_orders_status_check CHECK (status IN ('created', 'pending', 'paid', 'closed', 'failed')),
  CONSTRAINT gateway_recharge_orders_paid_check CHECK (status <> 'paid' OR paid_at IS NOT NULL)
);
CREATE UNIQUE INDEX uniq_gateway_recharge_idempotency
  ON aigw.gateway_recharge_orders (gateway_user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX uniq_gateway_recharge_external
  ON aigw.gateway_recharge_orders (channel, external_order_id) WHERE external_order_id IS NOT NULL;
CREATE INDEX idx_gateway_recharge_user ON aigw.gateway_recharge_orders (gateway_user_id, created_at DESC);

-- The handler table of the HTTP entry: route handler names to functions.
-- (Last file of the range, so that every handler exists when it is read.)

CREATE FUNCTION aigw.http_dispatch(handler text, ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  CASE handler
    WHEN 'healthz' THEN RETURN aigw.http_h_healthz(ctx);
    WHEN 'readyz' THEN RETURN aigw.http_h_readyz(ctx);
    WHEN 'metrics' THEN RETURN aigw.http_h_metrics(ctx);
    WHEN 'me' THEN RETURN aigw.http_h_me(ctx);
    WHEN 'chat' THEN RETURN aigw.http_h_chat(ctx);
    WHEN 'chat_structured' THEN RETURN aigw.http_h_chat_structured(ctx);
    WHEN 'embeddings' THEN RETURN aigw.http_h_embeddings(ctx);
    WHEN 'images_generations' THEN RETURN aigw.http_h_images_generations(ctx);
    WHEN 'images_edits' THEN RETURN aigw.http_h_images_edits(ctx);
    WHEN 'video_generations' THEN RETURN aigw.http_h_video_generations(ctx);
    WHEN 'task_result' THEN RETURN aigw.http_h_task_result(ctx);
    WHEN 'task_cancel' THEN RETURN aigw.http_h_task_cancel(ctx);
    WHEN 'task_get' THEN RETURN aigw.http_h_task_get(ctx);
    WHEN 'task_events' THEN RETURN aigw.http_h_task_events(ctx);
    WHEN 'platform_list' THEN RETURN aigw.http_h_platform_list(ctx);
    WHEN 'platform_ops_compact' THEN RETURN aigw.http_h_platform_ops_compact(ctx);
    WHEN 'platform_get' THEN RETURN aigw.http_h_platform_get(ctx);
    WHEN 'platform_update' THEN RETURN aigw.http_h_platform_update(ctx);
    WHEN 'platform_delete' THEN RETURN aigw.http_h_platform_delete(ctx);
    WHEN 'platform_disable' THEN RETURN aigw.http_h_platform_disable(ctx);
    WHEN 'platform_reset_exception' THEN RETURN aigw.http_h_platform_reset_exception(ctx);
    WHEN 'platform_action' THEN RETURN aigw.http_h_platform_action(ctx);
    WHEN 'platform_dynamic_priority_set' THEN RETURN aigw.http_h_platform_dynamic_priority_set(ctx);
    WHEN 'platform_dynamic_priority_clear' THEN RETURN aigw.http_h_platform_dynamic_priority_clear(ctx);
    WHEN 'platform_scene_script' THEN RETURN aigw.http_h_platform_scene_script(ctx);
    WHEN 'platform_enable_model' THEN RETURN aigw.http_h_platform_enable_model(ctx);
    WHEN 'models_list_enabled' THEN RETURN aigw.http_h_models_list_enabled(ctx);
    WHEN 'models_list_all' THEN RETURN aigw.http_h_models_list_all(ctx);
    WHEN 'models_by_type' THEN RETURN aigw.http_h_models_by_type(ctx);
    WHEN 'models_strict_type' THEN RETURN aigw.http_h_models_strict_type(ctx);
    WHEN 'platform_find_by_ids' THEN RETURN aigw.http_h_platform_find_by_ids(ctx);
    WHEN 'platform_find_by_model' THEN RETURN aigw.http_h_platform_find_by_model(ctx);
    WHEN 'platform_copy' THEN RETURN aigw.http_h_platform_copy(ctx);
    WHEN 'auth_register' THEN RETURN aigw.http_h_auth_register(ctx);
    WHEN 'auth_login' THEN RETURN aigw.http_h_auth_login(ctx);
    WHEN 'api_keys_list' THEN RETURN aigw.http_h_api_keys_list(ctx);
    WHEN 'api_keys_create' THEN RETURN aigw.http_h_api_keys_create(ctx);
    WHEN 'api_keys_disable' THEN RETURN aigw.http_h_api_keys_disable(ctx);
    WHEN 'v1_models' THEN RETURN aigw.http_h_v1_models(ctx);
    WHEN 'models_list' THEN RETURN aigw.http_h_models_list(ctx);
    WHEN 'embedding_models' THEN RETURN aigw.http_h_embedding_models(ctx);
    WHEN 'catalog_providers' THEN RETURN aigw.http_h_catalog_providers(ctx);
    WHEN 'catalog_base_models' THEN RETURN aigw.http_h_catalog_base_models(ctx);
    WHEN 'catalog_base_model' THEN RETURN aigw.http_h_catalog_base_model(ctx);
    WHEN 'runtime_clients' THEN RETURN aigw.http_h_runtime_clients(ctx);
    WHEN 'runtime_queues' THEN RETURN aigw.http_h_runtime_queues(ctx);
    WHEN 'platform_queue_stats' THEN RETURN aigw.http_h_platform_queue_stats(ctx);
    WHEN 'platform_clear_queue' THEN RETURN aigw.http_h_platform_clear_queue(ctx);
    WHEN 'runtime_task_replay' THEN RETURN aigw.http_h_runtime_task_replay(ctx);
    WHEN 'runtime_callbacks_replay' THEN RETURN aigw.http_h_runtime_callbacks_replay(ctx);
    WHEN 'runtime_rate_limit_windows' THEN RETURN aigw.http_h_runtime_rate_limit_windows(ctx);
    WHEN 'api_config_list' THEN RETURN aigw.http_h_api_config_list(ctx);
    WHEN 'api_config_get' THEN RETURN aigw.http_h_api_config_get(ctx);
    WHEN 'api_config_create' THEN RETURN aigw.http_h_api_config_create(ctx);
    WHEN 'api_config_update' THEN RETURN aigw.http_h_api_config_update(ctx);
    WHEN 'api_config_delete' THEN RETURN aigw.http_h_api_config_delete(ctx);
    WHEN 'platform_snapshots' THEN RETURN aigw.http_h_platform_snapshots(ctx);
    WHEN 'platform_create' THEN RETURN aigw.http_h_platform_create(ctx);
    WHEN 'pricing_estimate' THEN RETURN aigw.http_h_pricing_estimate(ctx);
    WHEN 'estimated_billing' THEN RETURN aigw.http_h_estimated_billing(ctx);
    WHEN 'pricing_rules' THEN RETURN aigw.http_h_pricing_rules(ctx);
    WHEN 'platform_preset' THEN RETURN aigw.http_h_platform_preset(ctx);
    WHEN 'api_config_execute' THEN RETURN aigw.http_h_api_config_execute(ctx);
    WHEN 'tenants_list' THEN RETURN aigw.http_h_tenants_list(ctx);
    WHEN 'tenant_get' THEN RETURN aigw.http_h_tenant_get(ctx);
    WHEN 'tenants_sync' THEN RETURN aigw.http_h_tenants_sync(ctx);
    WHEN 'invitations_list' THEN RETURN aigw.http_h_invitations_list(ctx);
    WHEN 'invitations_create' THEN RETURN aigw.http_h_invitations_create(ctx);
    WHEN 'users_list' THEN RETURN aigw.http_h_users_list(ctx);
    WHEN 'user_get' THEN RETURN aigw.http_h_user_get(ctx);
    WHEN 'users_sync' THEN RETURN aigw.http_h_users_sync(ctx);
    WHEN 'user_groups_list' THEN RETURN aigw.http_h_user_groups_list(ctx);
    WHEN 'user_group_get' THEN RETURN aigw.http_h_user_group_get(ctx);
    WHEN 'user_group_sync' THEN RETURN aigw.http_h_user_group_sync(ctx);
    WHEN 'wallet_accounts' THEN RETURN aigw.http_h_wallet_accounts(ctx);
    WHEN 'wallet_transactions' THEN RETURN aigw.http_h_wallet_transactions(ctx);
    WHEN 'recharge_orders_list' THEN RETURN aigw.http_h_recharge_orders_list(ctx);
    WHEN 'recharge_orders_create' THEN RETURN aigw.http_h_recharge_orders_create(ctx);
    ELSE
      RAISE EXCEPTION 'route handler % is not defined', handler USING ERRCODE = 'AG500';
  END CASE;
END
$$;

-- Every route must name a handler of aigw.http_dispatch.
DO $$
DECLARE
  src text := (SELECT prosrc FROM pg_proc WHERE oid = 'aigw.http_dispatch(text,aigw.http_ctx)'::regprocedure);
  missing text;
BEGIN
  SELECT string_agg(DISTINCT handler, ', ') INTO missing FROM aigw.http_routes
   WHERE position(format('WHEN %L THEN', handler) IN src) = 0;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'routes without a handler: %', missing;
  END IF;
END
$$;

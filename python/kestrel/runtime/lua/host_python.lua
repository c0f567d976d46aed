-- Host API v1 for rule code on the PUC Lua fallback (no FFI): every call goes
-- through a Python function that calls the same C table with ctypes, about a
-- microsecond each. Only for platforms whose lupa wheel lacks LuaJIT.
--
-- Returns `bind(cfg, F, nofield)` with the same shape as host_ffi.lua. The
-- Python side (host_python.py) keeps the current batch and the context.

local real_error, type = error, type

return function(cfg, F, nofield)
  local P = cfg.python_host  -- Python callables, by Host API name
  local kestrel = {}
  local function field_op(name)
    local fn = P[name]
    return function(ev, field, ...) return fn(ev, F[field] or nofield(field), ...) end
  end
  local get_i64, get_u64, get_f64 = field_op("event_get_i64"), field_op("event_get_u64"), field_op("event_get_f64")
  local get_str = field_op("event_get_str")
  function kestrel.event_get_i64(ev, field) return get_i64(ev, field) or 0 end
  function kestrel.event_get_u64(ev, field) return get_u64(ev, field) or 0 end
  function kestrel.event_get_f64(ev, field) return get_f64(ev, field) or 0.0 end
  function kestrel.event_get_str(ev, field) return get_str(ev, field) or "" end
  kestrel.get_i64, kestrel.get_f64 = get_i64, get_f64  -- closures from field_op
  kestrel.event_get_bool = field_op("event_get_bool")
  local is_null = field_op("event_is_null")
  function kestrel.is_null(ev, field) return is_null(ev, field) ~= 0 end
  kestrel.event_is_null = kestrel.is_null
  local function flag_op(name)
    local op = field_op(name)
    return function(ev, field, lit, ci) return op(ev, field, lit, ci and 1 or 0) end
  end
  for _, name in ipairs({"str_eq", "str_contains", "str_starts_with", "str_ends_with"}) do kestrel[name] = flag_op(name) end
  for _, name in ipairs({"glob_match_field", "re_match_field", "set_contains", "cmp_i64", "cmp_f64"}) do
    kestrel[name] = field_op(name)
  end
  -- Rule code gets Lua closures only, never the Python callables themselves.
  local eval_node, alert_emit = P.eval_node, P.alert_emit
  function kestrel.eval_node(ev, node) return eval_node(ev, node) end
  function kestrel.alert_emit(ev) return alert_emit(ev) end
  local category_is = P.category_is
  function kestrel.category_is(ev, name) return category_is(ev, name) end
  local function text_match(fn, id, text)
    if type(text) ~= "string" then real_error("expected a string to match, got " .. type(text), 3) end
    local r = fn(id, text)
    if r == -1 then return nil end
    return r == 1
  end
  function kestrel.re_match(id, text) return text_match(P.re_match, id, text) end
  function kestrel.glob_match(id, text) return text_match(P.glob_match, id, text) end
  local match_emit = P.match_emit
  local function flush(filter, buffer, count)
    for i = 0, count - 1 do match_emit(filter, buffer[i]) end
  end
  -- One Python call per list: the mask arrives as a Lua string, a byte per event.
  local category_mask, byte = P.category_mask, string.byte
  local function events_in(name)
    local mask, events, k = category_mask(name), {}, 0
    for ev = 0, #mask - 1 do
      if byte(mask, ev + 1) == 1 then
        events[k] = ev
        k = k + 1
      end
    end
    return events, k
  end
  return {
    kestrel = kestrel,
    set_batch = P.set_batch,
    hits = function() return {} end,
    flush = flush,
    events_in = events_in,
  }
end

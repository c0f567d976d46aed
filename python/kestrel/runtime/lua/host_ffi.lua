-- Host API v1 for rule code, over LuaJIT's FFI (trusted; run by the prelude).
--
-- Returns `bind(cfg, F, nofield)`: the `kestrel` module's host functions as
-- closures over the core's C table (`ffi.cast` on `cfg.api_address`), plus
-- `set_batch(address, n)` and `emit(filter, ev)` for the prelude's batch loop.
-- F maps the package's local field ids to schema FieldIds; `nofield(id)`
-- raises for an id it lacks.

local ffi = require("ffi")
local bit = require("bit")
local tonumber, type, real_error = tonumber, type, error
local band, rshift, lshift, tobit = bit.band, bit.rshift, bit.lshift, bit.tobit

return function(cfg, F, nofield)
  ffi.cdef(cfg.cdef)
  -- Untrusted rules run interpreted, where an FFI call costs several times
  -- a call to a Lua C function: their field reads are the core's C
  -- functions (`cfg.native_host`, opened through the core's own library).
  local native = nil
  if cfg.native_host then
    local open, why = package.loadlib(cfg.core_path, "kestrel_lua_open")
    if not open then real_error("the core's Lua functions did not load: " .. tostring(why), 0) end
    native = open(cfg.native_host)
    for id, field in pairs(F) do native.define_field(id, field) end
  end
  local api = ffi.cast("const HostApiV1 *", cfg.api_address)
  local CTX = ffi.cast("const void *", cfg.ctx_address)
  local B = nil                      -- the batch being evaluated; set per call
  local NP = ffi.new("int32_t[1]")   -- is_null out-parameter
  local LEN = ffi.new("uint32_t[1]") -- string length out-parameter

  -- The function pointers are read from the table once: an interpreted
  -- (untrusted) rule would otherwise box a new pointer on every call.
  local C_event_get_i64 = api.event_get_i64
  local C_event_get_u64 = api.event_get_u64
  local C_event_get_f64 = api.event_get_f64
  local C_event_get_bool = api.event_get_bool
  local C_event_get_str = api.event_get_str
  local C_event_is_null = api.event_is_null
  local C_str_eq = api.str_eq
  local C_str_contains = api.str_contains
  local C_str_starts_with = api.str_starts_with
  local C_str_ends_with = api.str_ends_with
  local C_glob_match_field = api.glob_match_field
  local C_re_match_field = api.re_match_field
  local C_set_contains = api.set_contains
  local C_eval_node = api.eval_node
  local C_alert_emit = api.alert_emit
  local C_column_i64 = api.column_i64
  local C_category_mask = api.category_mask
  local C_category_events = api.category_events
  local C_cmp_i64, C_cmp_f64 = api.cmp_i64, api.cmp_f64
  local C_column_str = api.column_str

  -- Per batch: plain int64 columns read in place (values and validity bits,
  -- found on first use), and one byte per event for each category asked
  -- about. Both are indexed only by events of the batch, checked first.
  local N = 0
  local DATA = ffi.new("const int64_t *[1]")
  local VALID = ffi.new("const uint64_t *[1]")
  local values, valid = {}, {}
  local masks, kept = {}, {}
  local function column(f)
    local v = values[f]
    if v == nil then
      if C_column_i64(B, f, DATA, VALID) == 1 then
        v, valid[f] = DATA[0], ffi.cast("const uint32_t *", VALID[0])
      else
        v = false
      end
      values[f] = v
    end
    return v
  end
  -- An event index this batch has (an integer in range), as rule code may pass anything.
  local function in_batch(ev)
    return type(ev) == "number" and ev >= 0 and ev < N and tobit(ev) == ev
  end
  local function bit_set(words, ev)
    return band(words[rshift(ev, 5)], lshift(1, band(ev, 31))) ~= 0
  end
  local function is_set(f, ev)
    return bit_set(valid[f], ev)
  end
  -- Plain string columns too: spans (offset, length) into the batch's arena.
  local SPANS = ffi.new("const uint32_t *[1]")
  local ARENA = ffi.new("const uint8_t *[1]")
  local spans, spans_valid, arena = {}, {}, nil
  local function str_column(f)
    local s = spans[f]
    if s == nil then
      if C_column_str(B, f, SPANS, VALID, ARENA) == 1 then
        s, spans_valid[f], arena = SPANS[0], ffi.cast("const uint32_t *", VALID[0]), ARENA[0]
      else
        s = false
      end
      spans[f] = s
    end
    return s
  end

  -- Lua strings made from the batch's texts, by address and per batch (the
  -- arena lives as long as the batch): a deduplicated column hands out one
  -- address per distinct text, so each is made once. Bounded: a column of
  -- unique texts stops being remembered after MAX_TEXTS. Interpreted code
  -- pays more for the lookup than for the copy, so only trusted code uses it.
  local MAX_TEXTS = 4096
  local texts, remembered = {}, 0
  local function remembered_text(p, len)
    local key = tonumber(ffi.cast("uintptr_t", p))
    local t = texts[key]
    if t ~= nil and #t == len then return t end
    t = ffi.string(p, len)
    if remembered < MAX_TEXTS then
      texts[key], remembered = t, remembered + 1
    end
    return t
  end
  local text_at = cfg.trusted and remembered_text or ffi.string
  -- The same, for a text read in place: keyed by its arena offset.
  local by_offset = {}
  local function text_in_arena(off, len)
    local t = by_offset[off]
    if t ~= nil and #t == len then return t end
    t = ffi.string(arena + off, len)
    if remembered < MAX_TEXTS then
      by_offset[off], remembered = t, remembered + 1
    end
    return t
  end

  local kestrel = {}
  -- Numeric getters return 0 for null, like the Wasm imports; use is_null to tell.
  function kestrel.event_get_i64(ev, field) return tonumber(C_event_get_i64(B, ev, F[field] or nofield(field), NP)) end
  function kestrel.event_get_u64(ev, field) return tonumber(C_event_get_u64(B, ev, F[field] or nofield(field), NP)) end
  function kestrel.event_get_f64(ev, field) return C_event_get_f64(B, ev, F[field] or nofield(field), NP) end
  -- Booleans, string and pattern operations are three-valued: 1 true, 0 false, -1 null.
  function kestrel.event_get_bool(ev, field) return C_event_get_bool(B, ev, F[field] or nofield(field)) end
  -- A missing string reads as "" (as a missing number reads as 0), so that
  -- `string.find(kestrel.event_get_str(ev, 2), ...)` never sees nil.
  function kestrel.event_get_str(ev, field)
    local p = C_event_get_str(B, ev, F[field] or nofield(field), LEN)
    if p == nil then return "" end
    return text_at(p, LEN[0])
  end
  -- For generated code: exact values, nil for null (int64 stays a 64-bit cdata).
  function kestrel.get_i64(ev, field)
    local v = C_event_get_i64(B, ev, F[field] or nofield(field), NP)
    if NP[0] ~= 0 then return nil end
    return v
  end
  -- Trusted (JIT-compiled) code reads plain int64 and string columns in
  -- place: a few loads where a call was. Interpreted code keeps calls (the
  -- core's C functions, below), which cost it fewer instructions than the
  -- checks around a load. A number that is not an event of the batch reads
  -- as null, here as in those functions (the FFI would truncate 0.5 to
  -- event 0).
  if cfg.trusted then
    local call_i64, call_get = kestrel.event_get_i64, kestrel.get_i64
    function kestrel.event_get_i64(ev, field)
      local f = F[field] or nofield(field)
      if in_batch(ev) then
        local v = column(f)
        if not v then return call_i64(ev, field) end
        if is_set(f, ev) then return tonumber(v[ev]) end
        return 0
      end
      if type(ev) == "number" then return 0 end
      return call_i64(ev, field)
    end
    function kestrel.get_i64(ev, field)
      local f = F[field] or nofield(field)
      if in_batch(ev) then
        local v = column(f)
        if not v then return call_get(ev, field) end
        if is_set(f, ev) then return v[ev] end
        return nil
      end
      if type(ev) == "number" then return nil end
      return call_get(ev, field)
    end
    local call_str = kestrel.event_get_str
    function kestrel.event_get_str(ev, field)
      local f = F[field] or nofield(field)
      if in_batch(ev) then
        local s = str_column(f)
        if not s then return call_str(ev, field) end
        if not bit_set(spans_valid[f], ev) then return "" end
        return text_in_arena(s[2 * ev], band(s[2 * ev + 1], 0x7fffffff))
      end
      if type(ev) == "number" then return "" end
      return call_str(ev, field)
    end
  end
  function kestrel.get_f64(ev, field)
    local v = C_event_get_f64(B, ev, F[field] or nofield(field), NP)
    if NP[0] ~= 0 then return nil end
    return v
  end
  -- Numeric comparisons (op codes as in rules/README.md), three-valued:
  -- an array field is true when any of its values compares true.
  function kestrel.cmp_i64(ev, field, op, rhs) return C_cmp_i64(B, ev, F[field] or nofield(field), op, rhs) end
  function kestrel.cmp_f64(ev, field, op, rhs) return C_cmp_f64(B, ev, F[field] or nofield(field), op, rhs) end
  if cfg.trusted then
    -- A plain int64 column compares in place. The op is a constant at each
    -- call site, so a compiled trace keeps only its own branch.
    local call_cmp = kestrel.cmp_i64
    function kestrel.cmp_i64(ev, field, op, rhs)
      local f = F[field] or nofield(field)
      local v = column(f)
      if not (v and in_batch(ev)) then return call_cmp(ev, field, op, rhs) end
      if not is_set(f, ev) then return -1 end
      local x = v[ev]
      local r
      if op == 4 then r = x > rhs
      elseif op == 2 then r = x < rhs
      elseif op == 5 then r = x >= rhs
      elseif op == 3 then r = x <= rhs
      elseif op == 0 then r = x == rhs
      elseif op == 1 then r = x ~= rhs
      else return -1 end
      return r and 1 or 0
    end
  end
  function kestrel.is_null(ev, field) return C_event_is_null(B, ev, F[field] or nofield(field)) ~= 0 end
  kestrel.event_is_null = kestrel.is_null
  function kestrel.str_eq(ev, field, lit, ci) return C_str_eq(CTX, B, ev, F[field] or nofield(field), lit, ci and 1 or 0) end
  function kestrel.str_contains(ev, field, lit, ci) return C_str_contains(CTX, B, ev, F[field] or nofield(field), lit, ci and 1 or 0) end
  function kestrel.str_starts_with(ev, field, lit, ci) return C_str_starts_with(CTX, B, ev, F[field] or nofield(field), lit, ci and 1 or 0) end
  function kestrel.str_ends_with(ev, field, lit, ci) return C_str_ends_with(CTX, B, ev, F[field] or nofield(field), lit, ci and 1 or 0) end
  function kestrel.glob_match_field(ev, field, id) return C_glob_match_field(CTX, B, ev, F[field] or nofield(field), id) end
  function kestrel.re_match_field(ev, field, id) return C_re_match_field(CTX, B, ev, F[field] or nofield(field), id) end
  function kestrel.set_contains(ev, field, id) return C_set_contains(CTX, B, ev, F[field] or nofield(field), id) end
  function kestrel.eval_node(ev, node) return C_eval_node(CTX, B, ev, node) end
  -- Text matching on a Lua string: true/false (nil for a bad id or non-UTF-8 text).
  local function text_match(fn, id, text)
    if type(text) ~= "string" then real_error("expected a string to match, got " .. type(text), 3) end
    local r = fn(CTX, id, text, #text)
    if r == -1 then return nil end
    return r == 1
  end
  function kestrel.re_match(id, text) return text_match(api.re_match, id, text) end
  function kestrel.glob_match(id, text) return text_match(api.glob_match, id, text) end
  function kestrel.alert_emit(ev) return C_alert_emit(CTX, ev) end
  -- Whether event `ev`'s categories include `name` (false outside the batch).
  function kestrel.category_is(ev, name)
    local m = masks[name]
    if m == nil then
      -- An unknown name or a call outside a batch gets an all-zero mask: a
      -- cdata is never compared against a Lua value, which the JIT would not compile.
      local storage = ffi.new("uint8_t[?]", N + 1)
      if type(name) ~= "string" or C_category_mask(B, name, #name, storage, N) ~= 0 then ffi.fill(storage, N + 1) end
      kept[#kept + 1] = storage
      m = ffi.cast("const uint8_t *", storage)
      masks[name] = m
    end
    return in_batch(ev) and m[ev] == 1
  end

  -- Untrusted rules: the core's C functions replace the FFI reads.
  if native then
    kestrel.event_get_i64, kestrel.event_get_u64 = native.event_get_i64, native.event_get_u64
    kestrel.event_get_f64, kestrel.event_get_bool = native.event_get_f64, native.event_get_bool
    kestrel.event_get_str = native.event_get_str
    kestrel.is_null, kestrel.event_is_null = native.is_null, native.is_null
  end

  -- The batch loop's matches collect in `hits()` and reach the core in one
  -- call (`flush`): a C call per match would cost more than most
  -- predicates. The loop stores at most once per event, so `N` slots suffice.
  local C_match_emit_many = api.match_emit_many
  local HITS, capacity = nil, 0
  local LISTED, listed = nil, 0
  return {
    kestrel = kestrel,
    -- With the core's functions: a field id added after binding, and
    -- whether the core's watchdog stopped the current run.
    define_field = native and native.define_field,
    stopped = native and native.stopped,
    set_batch = function(address, n)
      B = address and ffi.cast("const void *", address) or nil
      N = address and n or 0
      if native then native.set_batch(address or 0, N) end
      values, valid, masks, kept = {}, {}, {}, {}
      spans, spans_valid, arena = {}, {}, nil
      texts, by_offset, remembered = {}, {}, 0
      if N > capacity then HITS, capacity = ffi.new("uint32_t[?]", N), N end
    end,
    hits = function() return HITS end,
    -- The events of category `name` (an array and its length). Read as
    -- int32 (indexes fit), so the loop hands rule code integers, not doubles.
    -- One buffer serves: a batch call asks for one list and is done with it.
    events_in = function(name)
      if N + 1 > listed then LISTED, listed = ffi.new("int32_t[?]", N + 1), N + 1 end
      local k = C_category_events(B, name, #name, ffi.cast("uint32_t *", LISTED), N)
      if k < 0 then return LISTED, 0 end
      return LISTED, k
    end,
    flush = function(filter, buffer, count)
      if count > 0 then C_match_emit_many(CTX, filter, buffer, count) end
    end,
  }
end

-- Kestrel's trusted Lua prelude (LuaJIT 2.1; PUC Lua 5.4 as a fallback).
--
-- This chunk runs once per rule runtime, with the full standard library, and
-- returns `setup(cfg)`. `setup` takes the Host API binding (`cfg.bind`, from
-- host_ffi.lua, or host_python.lua on the fallback), builds the rule's
-- sandboxed environment and returns the entry points Python calls: one call
-- per batch, with the per-event loop here in Lua.
--
-- Rule code only ever sees `env`. It never reaches `ffi`, `debug`, `jit`,
-- `load`, the real globals or any Python object: those live in this chunk's
-- locals and upvalues, and the sandbox has no `debug.getupvalue` to read them.

local jit = jit  -- nil on PUC Lua
local sethook = debug.sethook
local real_pcall, real_xpcall, real_error = pcall, xpcall, error
local real_getmetatable, real_setmetatable = getmetatable, setmetatable
local loadstring, setfenv, load = loadstring, setfenv, load
local type, tostring, tonumber, select, pairs = type, tostring, tonumber, select, pairs
local concat = table.concat

-- Error values may be rule tables with a __tostring that loops or errors:
-- the prelude never runs rule code to describe them.
local function safe_message(value)
  local t = type(value)
  if t == "string" then return value end
  if t == "number" or t == "boolean" or t == "nil" then return tostring(value) end
  return "an error object of type " .. t
end

-- `string.dump` hands out bytecode, and strings index the real `string`
-- table through their metatable, so it is removed for everyone here.
string.dump = nil

return function(cfg)
  local F = {}                       -- local field id -> schema FieldId
  for i = 1, #cfg.field_ids, 2 do F[cfg.field_ids[i]] = cfg.field_ids[i + 1] end
  local resolve_path = cfg.resolve_path  -- Python: path -> schema FieldId (load time only)
  local next_local = cfg.next_local_id
  local LOCAL_OF_PATH = {}
  for i = 1, #cfg.field_paths, 2 do LOCAL_OF_PATH[cfg.field_paths[i + 1]] = cfg.field_paths[i] end

  -- ---- the budgets (untrusted rules; the JIT is off for them) ----
  -- A count hook does not fire inside compiled traces, so untrusted rules run
  -- interpreted and this hook bounds every event (instructions) and every
  -- batch (wall time, read every CLOCK_EVERY hooks), and every pcall wrapper
  -- re-raises once a budget is blown, so rule code cannot swallow the stop.
  local trusted = cfg.trusted
  local ticks, max_ticks, killed = 0, cfg.max_ticks, nil
  local nesting = 0  -- see "C functions that call back into Lua" below
  local deadline, clock_in = math.huge, 0
  local CLOCK_EVERY = 8
  local KILLED = "instruction budget exceeded (runaway predicate stopped)"
  local OVERTIME = "time budget of " .. cfg.batch_seconds .. " s per batch exceeded (rule stopped)"
  local now = cfg.clock
  if jit and cfg.cdef and jit.os == "Linux" then
    -- The same clock as Python's time.monotonic, without a call into Python.
    local ffi = require("ffi")
    ffi.cdef("typedef struct { long sec; long nsec; } kestrel_timespec;" ..
      "int clock_gettime(int clock, kestrel_timespec *out);")
    local ts, C, CLOCK_MONOTONIC = ffi.new("kestrel_timespec"), ffi.C, 1
    now = function()
      C.clock_gettime(CLOCK_MONOTONIC, ts)
      return tonumber(ts.sec) + tonumber(ts.nsec) * 1e-9
    end
  end
  local function on_count()
    ticks = ticks + 1
    if ticks > max_ticks then
      killed = KILLED
      real_error(KILLED, 0)
    end
    clock_in = clock_in - 1
    if clock_in <= 0 then
      clock_in = CLOCK_EVERY
      if now() > deadline then
        killed = OVERTIME
        real_error(OVERTIME, 0)
      end
    end
  end
  local function arm()
    ticks, killed, nesting = 0, nil, 0
  end
  -- On LuaJIT the core's watchdog stops an overrun instead (`cfg.native_host`):
  -- a count hook would slow every bytecode of every event.
  local watched = cfg.native_host ~= nil
  if not trusted then
    if jit then
      jit.off()
      jit.flush()
    end
    if not watched then sethook(on_count, "", cfg.hook_every) end
  end
  local stopped = nil  -- the watchdog's verdict on this run, once bound

  local function rethrow(depth, ...)
    if killed then real_error(killed, 0) end
    if stopped and stopped() then real_error(OVERTIME, 0) end
    nesting = depth
    return ...
  end

  -- ---- field ids ----
  -- Called only for an id missing from F (`F[field] or nofield(field)`).
  local function nofield(field)
    real_error("unknown field id " .. safe_message(field) ..
      " (declare it in the manifest's \"fields\" or get it from kestrel.field_id)", 3)
  end

  -- New paths resolve through Python and may add fields to the schema, so
  -- only while the rule loads (its chunk and pred_init); afterwards only
  -- paths already resolved are answered.
  local loading = true
  local define_field = nil  -- tells the core's functions of a new id, once bound
  local function field_id(path)
    if type(path) ~= "string" then real_error("kestrel.field_id expects a dotted path string", 2) end
    local id = LOCAL_OF_PATH[path]
    if id == nil then
      if not loading then
        real_error("kestrel.field_id('" .. path .. "'): new paths are resolved in pred_init only", 2)
      end
      local field = resolve_path(path)
      if field < 0 then
        real_error("kestrel.field_id('" .. path .. "'): this rule added " .. cfg.max_fields_added ..
          " new fields to the schema; no more are allowed", 2)
      end
      id = next_local
      next_local = next_local + 1
      F[id] = field
      if define_field then define_field(id, field) end
      LOCAL_OF_PATH[path] = id
    end
    return id
  end

  -- ---- Host API v1 as the `kestrel` module ----
  local host = cfg.bind(cfg, F, nofield)
  local kestrel = host.kestrel
  define_field, stopped = host.define_field, host.stopped
  kestrel.field_id = field_id

  -- Emitted alerts pile up in the core, outside the Lua memory cap: at most
  -- one call per event of the batch, and only for events of the batch.
  local raw_alert_emit = host.kestrel.alert_emit
  local batch_events, emits = 0, 0
  local forget_finds = nil  -- set below for compiled rules; a batch's searches are its own
  local function open_batch(address, n)
    host.set_batch(address, n)
    if forget_finds then forget_finds() end
    batch_events, emits = address and n or 0, 0
  end
  function kestrel.alert_emit(ev)
    if type(ev) ~= "number" or ev < 0 or ev >= batch_events or ev % 1 ~= 0 then
      real_error("kestrel.alert_emit: " .. safe_message(ev) .. " is not an event of the current batch", 2)
    end
    emits = emits + 1
    if emits > batch_events then real_error("kestrel.alert_emit: more calls than events in the batch", 2) end
    return raw_alert_emit(ev)
  end

  -- ---- C functions that call back into Lua ----
  -- Each nested call of one of these (string.gsub with a function, table.sort
  -- with a comparator, tostring/string.format through __tostring, os.time
  -- through __index) takes C stack, which LuaJIT does not bound: a rule that
  -- recursed through them would crash the process. So their nesting is
  -- counted and capped. The count is reset with the budget (arm) and
  -- restored by the sandbox's pcall/xpcall when they catch an error.
  local MAX_NESTING = cfg.max_nesting
  local function leave(...)
    nesting = nesting - 1
    return ...
  end
  local function guarded(fn, name)
    return function(...)
      nesting = nesting + 1
      if nesting > MAX_NESTING then
        real_error("sandbox: " .. name .. " nested more than " .. MAX_NESTING .. " deep", 2)
      end
      return leave(fn(...))
    end
  end
  -- The real tables too: strings reach `string` through their metatable.
  string.gsub = guarded(string.gsub, "string.gsub")
  string.format = guarded(string.format, "string.format")
  table.sort = guarded(table.sort, "table.sort")
  table.foreach, table.foreachi = nil, nil  -- deprecated, and callbacks from C
  local safe_tostring = guarded(tostring, "tostring")

  -- ---- pattern matching under the budgets ----
  -- Backtracking in C runs where the hook cannot stop it. For untrusted
  -- rules a call goes to C only when its worst case is at most
  -- cfg.pattern_steps steps; any other call runs the Lua matcher, which the
  -- budgets stop like any rule code.
  if not trusted then
    local P = cfg.patterns
    local C_find, C_match, C_gmatch, C_gsub = string.find, string.match, string.gmatch, string.gsub
    local LIMIT, max_subject = cfg.pattern_steps, P.max_subject
    -- Per pattern, the longest subject the C matcher may take (anchored
    -- calls and gmatch's unanchored ones apart); bounded like any cache.
    local FITS, cached = { [true] = {}, [false] = {} }, 0
    -- Whether the C matcher is safe for this call.
    local function small(s, p, init, plain, anchored_ok)
      local ts, tp = type(s), type(p)
      if ts ~= "string" then
        if ts ~= "number" then return true end  -- C raises its own argument error
        s = tostring(s)
      end
      if tp ~= "string" then
        if tp ~= "number" then return true end
        p = tostring(p)
      end
      local n = #s
      if init ~= nil and type(init) == "number" then
        local start = init < 0 and n + init + 1 or init
        if start > 1 then n = start > n and 0 or n - start + 1 end
      end
      if plain then return (n + 1) * (#p + 1) <= LIMIT end
      local fits = FITS[anchored_ok]
      local most = fits[p]
      if most == nil then
        most = max_subject(p, anchored_ok, LIMIT)
        if cached >= 256 then
          -- Emptied in place: the fast path holds the anchored table.
          for _, table_ in pairs(FITS) do
            for key in pairs(table_) do table_[key] = nil end
          end
          cached = 0
        end
        fits[p], cached = most, cached + 1
      end
      return n <= most
    end
    -- The common call, two strings and nothing else, is answered from the
    -- cache without the general checks.
    -- (Only string patterns are keys of the cache.)
    local ANCHORED = FITS[true]
    string.find = function(s, p, init, plain)
      if init == nil and not plain and type(s) == "string" then
        local most = ANCHORED[p]
        if most ~= nil and #s <= most then return C_find(s, p) end
      end
      if small(s, p, init, plain, true) then return C_find(s, p, init, plain) end
      return P.find(s, p, init, plain)
    end
    string.match = function(s, p, init)
      if init == nil and type(s) == "string" then
        local most = ANCHORED[p]
        if most ~= nil and #s <= most then return C_match(s, p) end
      end
      if small(s, p, init, false, true) then return C_match(s, p, init) end
      return P.match(s, p, init)
    end
    string.gmatch = function(s, p)
      if small(s, p, nil, false, false) then return C_gmatch(s, p) end
      return P.gmatch(s, p)
    end
    string.gsub = function(s, p, repl, n)
      if small(s, p, nil, false, true) then return C_gsub(s, p, repl, n) end
      return P.gsub(s, p, repl, n)
    end
  elseif jit then
    -- Compiled code: a search is answered once per distinct text (find_memo.lua).
    string.find, forget_finds = cfg.find_memo(string.find)
  end
  local safe_time = guarded(os.time, "os.time")

  -- ---- print goes to a buffer that Python drains into its logging ----
  local LOG, log_n, log_dropped, LOG_MAX = {}, 0, 0, cfg.log_max
  local function print_(...)
    if log_n >= LOG_MAX then log_dropped = log_dropped + 1; return end
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = safe_tostring((select(i, ...))) end
    log_n = log_n + 1
    LOG[log_n] = concat(parts, "\t")
  end

  -- ---- the sandbox ----
  local function copy(t, omit)
    local c = {}
    for k, v in pairs(t) do if not (omit and omit[k]) then c[k] = v end end
    return c
  end
  local FORBIDDEN = {}
  for name in cfg.forbidden:gmatch("%S+") do FORBIDDEN[name] = true end

  local env = {
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, select = select,
    tonumber = tonumber, tostring = safe_tostring, type = type, unpack = unpack or table.unpack, rawequal = rawequal,
    rawget = rawget, rawset = rawset, print = print_,
    string = copy(string), table = copy(table), math = copy(math), bit = bit and copy(bit),
    os = { time = safe_time, clock = os.clock },
    kestrel = kestrel,
  }
  env._G = env
  -- pcall/xpcall may not swallow the stop of a runaway predicate.
  local function protected(call)
    return function(...)
      local depth = nesting
      return rethrow(depth, call(...))
    end
  end
  env.pcall = protected(real_pcall)
  -- When the stop is raised from a hook, LuaJIT runs the message handler
  -- with hooks still blocked (they are re-enabled only once the error
  -- reaches the pcall frame), so a looping handler could never be stopped:
  -- once the run is stopped, the rule's handler is not called at all.
  env.xpcall = function(f, handler, ...)
    local depth = nesting
    local function unless_stopped(e)
      if killed or (stopped and stopped()) then return e end
      return handler(e)
    end
    return rethrow(depth, real_xpcall(f, unless_stopped, ...))
  end
  -- Metatables only on tables: `getmetatable("")` would hand out the string
  -- metatable (and through it the shared `string` table).
  env.getmetatable = function(t)
    if type(t) ~= "table" then
      real_error("sandbox: getmetatable is only allowed on tables, not on a " .. type(t), 2)
    end
    return real_getmetatable(t)
  end
  env.setmetatable = function(t, mt)
    if type(t) ~= "table" then real_error("sandbox: setmetatable is only allowed on tables", 2) end
    return real_setmetatable(t, mt)
  end
  real_setmetatable(env, {
    __index = function(_, name)
      if FORBIDDEN[name] then
        real_error("sandbox: '" .. tostring(name) .. "' is not available to rule code", 2)
      end
      return nil
    end,
    __metatable = "sandboxed",
  })
  local forbidden_member = function(lib, members)
    real_setmetatable(env[lib], {
      __index = function(_, name)
        if members[name] then
          real_error("sandbox: '" .. lib .. "." .. tostring(name) .. "' is not available to rule code", 2)
        end
      end,
      __metatable = "sandboxed",
    })
  end
  forbidden_member("os", { execute = true, exit = true, getenv = true, remove = true, rename = true,
    tmpname = true, setlocale = true, date = true })
  forbidden_member("string", { dump = true })

  -- ---- entry points for Python ----
  local entry = {}

  -- Compile the rule's source inside the sandbox (text only: bytecode can
  -- break out of the VM, so it is refused before it is ever loaded).
  function entry.load(source, chunkname)
    if source:byte(1) == 27 then return false, "precompiled Lua bytecode is not accepted" end
    local chunk, err
    if setfenv then
      chunk, err = loadstring(source, "=" .. chunkname)
      if chunk then setfenv(chunk, env) end
    else
      chunk, err = load(source, "=" .. chunkname, "t", env)
    end
    if not chunk then return false, err end
    arm()
    local ok, msg = real_pcall(chunk)
    if not ok then return false, safe_message(msg) end
    return true
  end

  function entry.init()
    arm()
    local init = rawget(env, "pred_init")
    if init == nil then
      loading = false
      return 0
    end
    local ok, r = real_pcall(init)
    loading = false
    if not ok then real_error(safe_message(r), 0) end
    return r
  end

  function entry.has(name)
    arm()
    return type(rawget(env, name)) == "function"
  end

  local function describe(value)
    local t = type(value)
    if t ~= "string" and t ~= "number" and t ~= "boolean" and t ~= "nil" then return "a " .. t end
    return "a " .. type(value) .. " (" .. tostring(value) .. ")"
  end

  -- The hot loop. Matches are stored in `hits` (the host's buffer) and
  -- reported after the loop: a call per match would cost more than most
  -- predicates. `mark` names the event being evaluated, for errors, and
  -- gives it its own instruction budget.
  local function verdict(r)
    if r ~= true and r ~= false then
      real_error("pred_eval returned " .. describe(r) .. ", expected a boolean", 0)
    end
    return r
  end
  -- The events offered are `events[from..to-1]` (a filter's category), or
  -- `from..to-1` themselves when `events` is nil.
  local LOOP = [[
    local verdict, mark = ...
    return function(pred, events, from, to, hits, count)
      for i = from, to - 1 do
        local ev = i
        if events then ev = events[i] end
        mark(ev)
        if verdict(pred(ev)) then
          hits[count] = ev
          count = count + 1
        end
      end
      return count
    end
  ]]
  -- LuaJIT records a loop's trace once, from one iteration soon after it
  -- turns hot. A batch's first events miss the rule's caches (texts by
  -- offset, find_memo.lua), and a trace recorded on a miss runs every
  -- later hit as a side exit back through its head, several times slower.
  -- So a batch's first WARM events run in a loop of their own, and the
  -- main loop (another prototype, so another trace) turns hot once the
  -- caches have seen the common values.
  local WARM = 512
  local current = -1
  local function mark(ev) current, ticks = ev, 0 end
  -- Compiled rules have no count hook, so no ticks to reset.
  if trusted then mark = function(ev) current = ev end end
  local function compile_loop()
    return (loadstring or load)(LOOP, "=kestrel loop")(verdict, mark)
  end
  local warm_loop, loop = compile_loop(), compile_loop()

  -- One call per batch: returns (true, matches) or (false, message, event index).
  -- `until_time` ends the batch's time budget (the clock of `now`).
  function entry.run(batch_address, n, filter, until_time)
    local suffix = filter == 0 and "" or ("_" .. filter)
    local name = "pred_eval" .. suffix
    local pred = rawget(env, name)
    if type(pred) ~= "function" then return false, "the rule defines no " .. name .. "()", -1 end
    -- An optional `pred_category` names the only category whose events
    -- the filter can match: the others are not offered to it at all.
    local category = rawget(env, "pred_category" .. suffix)
    if category ~= nil and type(category) ~= "string" then
      return false, "pred_category" .. suffix .. " must be a string, not " .. describe(category), -1
    end
    open_batch(batch_address, n)
    arm()
    deadline, clock_in = until_time or math.huge, 0
    current = -1
    local hits = host.hits()
    local events, k = nil, n
    if category then events, k = host.events_in(category) end
    local warm = math.min(k, WARM)
    local ok, r = real_pcall(warm_loop, pred, events, 0, warm, hits, 0)
    if ok then ok, r = real_pcall(loop, pred, events, warm, k, hits, r) end
    deadline = math.huge
    -- A failed batch reports nothing: its matches are discarded anyway.
    if ok then host.flush(filter, hits, r) end
    open_batch(nil)
    if ok then return true, r end
    return false, safe_message(r), current
  end

  -- pred_capture for the matched events only; returns {ev -> {field -> value}}.
  function entry.capture(batch_address, n, events, until_time)
    local capture = rawget(env, "pred_capture")
    local out = {}
    if type(capture) ~= "function" then return out end
    open_batch(batch_address, n)
    deadline, clock_in = until_time or math.huge, 0
    local ok, err = real_pcall(function()
      for i = 1, #events do
        arm()
        local ev = events[i]
        local fields = capture(ev)
        if type(fields) ~= "table" then
          real_error("pred_capture returned " .. describe(fields) .. ", expected a table", 0)
        end
        local flat = {}
        for k, v in pairs(fields) do
          local t = type(v)
          local tk = type(k)
          if (tk == "string" or tk == "number") and (t == "string" or t == "number" or t == "boolean") then
            flat[tostring(k)] = v
          end
        end
        out[ev] = flat
      end
    end)
    open_batch(nil)
    deadline = math.huge
    if not ok then return false, safe_message(err) end
    return true, out
  end

  function entry.drain_log()
    arm()
    local lines, dropped = LOG, log_dropped
    LOG, log_n, log_dropped = {}, 0, 0
    return lines, dropped
  end

  return entry
end

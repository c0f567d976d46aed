-- Lua pattern matching that an untrusted rule's instruction budget can stop.
--
-- string.find/match/gmatch/gsub backtrack in C, where the count hook never
-- fires: one call with a pathological pattern can run for hours. The
-- prelude keeps the C functions for calls whose worst case is provably
-- small (`cost` below) and sends every other call here: the same matcher,
-- written in Lua, so each step is an interpreted instruction under the
-- rule's per-event and per-batch budgets. The semantics are those of Lua
-- 5.1 patterns as LuaJIT implements them; tests diff this module against
-- the C functions.
--
-- Returns a table: cost(pattern, subject_length, anchored_ok),
-- max_subject(pattern, anchored_ok, limit) and the four functions find,
-- match, gmatch, gsub.

local byte, sub, concat = string.byte, string.sub, table.concat
local type, tostring, error, select = type, tostring, error, select
local huge = math.huge
local unpack = unpack or table.unpack
-- Taken before the prelude replaces string.find with the budgeted version.
local c_find = string.find

local ESC, OPEN, CLOSE, DOLLAR, CARET = 37, 40, 41, 36, 94
local LBRACKET, RBRACKET, DOT, DASH = 91, 93, 46, 45
local STAR, PLUS, QUESTION = 42, 43, 63
local CAP_UNFINISHED, CAP_POSITION = -1, -2
local MAX_CAPTURES, MAX_DEPTH = 32, 200

-- ---- character classes (the C locale) ----
local CLASSES = {}
do
  local function set(letter, test)
    local t = {}
    for c = 0, 255 do t[c] = test(c) end
    CLASSES[byte(letter)] = t
  end
  local function alpha(c) return (c >= 65 and c <= 90) or (c >= 97 and c <= 122) end
  local function digit(c) return c >= 48 and c <= 57 end
  local function graph(c) return c >= 33 and c <= 126 end
  set("a", alpha)
  set("c", function(c) return c < 32 or c == 127 end)
  set("d", digit)
  set("g", graph)
  set("l", function(c) return c >= 97 and c <= 122 end)
  set("p", function(c) return graph(c) and not alpha(c) and not digit(c) end)
  set("s", function(c) return c == 32 or (c >= 9 and c <= 13) end)
  set("u", function(c) return c >= 65 and c <= 90 end)
  set("w", function(c) return alpha(c) or digit(c) end)
  set("x", function(c) return digit(c) or (c >= 65 and c <= 70) or (c >= 97 and c <= 102) end)
  set("z", function(c) return c == 0 end)
end

local function match_class(c, cl)
  local lower = cl
  if cl >= 65 and cl <= 90 then lower = cl + 32 end
  local t = CLASSES[lower]
  if t == nil then return cl == c end
  if lower ~= cl then return not t[c] end
  return t[c]
end

-- The index just past the single-character class that starts at `p`.
local function class_end(pat, plen, p)
  local c = byte(pat, p)
  p = p + 1
  if c == ESC then
    if p > plen then error("malformed pattern (ends with '%')", 0) end
    return p + 1
  elseif c == LBRACKET then
    if byte(pat, p) == CARET then p = p + 1 end
    repeat
      if p > plen then error("malformed pattern (missing ']')", 0) end
      local cc = byte(pat, p)
      p = p + 1
      if cc == ESC and p <= plen then p = p + 1 end
    until byte(pat, p) == RBRACKET
    return p + 1
  end
  return p
end

-- `p` is the '[' and `ec` the closing ']'.
local function match_bracket(c, pat, p, ec)
  local sig = true
  if byte(pat, p + 1) == CARET then
    sig = false
    p = p + 1
  end
  p = p + 1
  while p < ec do
    local pc = byte(pat, p)
    if pc == ESC then
      p = p + 1
      if match_class(c, byte(pat, p)) then return sig end
    elseif byte(pat, p + 1) == DASH and p + 2 < ec then
      if pc <= c and c <= byte(pat, p + 2) then return sig end
      p = p + 2
    elseif pc == c then
      return sig
    end
    p = p + 1
  end
  return not sig
end

local function single_match(c, pat, p, ep)
  local pc = byte(pat, p)
  if pc == DOT then return true end
  if pc == ESC then return match_class(c, byte(pat, p + 1)) end
  if pc == LBRACKET then return match_bracket(c, pat, p, ep - 1) end
  return pc == c
end

-- ---- the matcher ----
-- ms: src, slen, pat, plen, level, depth, init[], len[] (captures).
local do_match

local function max_expand(ms, s, p, ep)
  local src, slen, pat = ms.src, ms.slen, ms.pat
  local i = 0
  while s + i <= slen and single_match(byte(src, s + i), pat, p, ep) do i = i + 1 end
  while i >= 0 do
    local r = do_match(ms, s + i, ep + 1)
    if r then return r end
    i = i - 1
  end
  return nil
end

local function min_expand(ms, s, p, ep)
  local src, slen, pat = ms.src, ms.slen, ms.pat
  while true do
    local r = do_match(ms, s, ep + 1)
    if r then return r end
    if s <= slen and single_match(byte(src, s), pat, p, ep) then
      s = s + 1
    else
      return nil
    end
  end
end

local function start_capture(ms, s, p, what)
  local level = ms.level + 1
  if level > MAX_CAPTURES then error("too many captures", 0) end
  ms.init[level], ms.len[level] = s, what
  ms.level = level
  local r = do_match(ms, s, p)
  if not r then ms.level = ms.level - 1 end
  return r
end

local function end_capture(ms, s, p)
  local l = ms.level
  while l >= 1 and ms.len[l] ~= CAP_UNFINISHED do l = l - 1 end
  if l < 1 then error("invalid pattern capture", 0) end
  ms.len[l] = s - ms.init[l]
  local r = do_match(ms, s, p)
  if not r then ms.len[l] = CAP_UNFINISHED end
  return r
end

local function match_balance(ms, s, p)
  local pat, src, slen = ms.pat, ms.src, ms.slen
  if p + 1 > ms.plen then error("malformed pattern (missing arguments to '%b')", 0) end
  if s > slen or byte(src, s) ~= byte(pat, p) then return nil end
  local b, e = byte(pat, p), byte(pat, p + 1)
  local depth = 1
  for i = s + 1, slen do
    local c = byte(src, i)
    if c == e then
      depth = depth - 1
      if depth == 0 then return i + 1 end
    elseif c == b then
      depth = depth + 1
    end
  end
  return nil
end

local function match_capture(ms, s, digit)
  local l = digit - 48
  if l < 1 or l > ms.level or ms.len[l] == CAP_UNFINISHED then
    error("invalid capture index", 0)
  end
  local len = ms.len[l]
  -- A position capture has no text: C compares its negative length as a
  -- huge unsigned one, so it never matches.
  if len >= 0 and ms.slen - s + 1 >= len and sub(ms.src, ms.init[l], ms.init[l] + len - 1) == sub(ms.src, s, s + len - 1) then
    return s + len
  end
  return nil
end

do_match = function(ms, s, p)
  local depth = ms.depth + 1
  if depth > MAX_DEPTH then error("pattern too complex", 0) end
  ms.depth = depth
  local pat, plen, src, slen = ms.pat, ms.plen, ms.src, ms.slen
  local result
  while true do
    if p > plen then
      result = s
      break
    end
    local c = byte(pat, p)
    local nextc = byte(pat, p + 1)
    if c == OPEN then
      if nextc == CLOSE then
        result = start_capture(ms, s, p + 2, CAP_POSITION)
      else
        result = start_capture(ms, s, p + 1, CAP_UNFINISHED)
      end
      break
    elseif c == CLOSE then
      result = end_capture(ms, s, p + 1)
      break
    elseif c == DOLLAR and p == plen then
      if s == slen + 1 then result = s end
      break
    elseif c == ESC and nextc == 98 then -- %b
      s = match_balance(ms, s, p + 2)
      if not s then break end
      p = p + 4
    elseif c == ESC and nextc == 102 then -- %f
      p = p + 2
      if byte(pat, p) ~= LBRACKET then error("missing '[' after '%f' in pattern", 0) end
      local ep = class_end(pat, plen, p)
      local prev = s == 1 and 0 or byte(src, s - 1)
      local cur = byte(src, s) or 0
      if match_bracket(prev, pat, p, ep - 1) or not match_bracket(cur, pat, p, ep - 1) then break end
      p = ep
    elseif c == ESC and nextc and nextc >= 48 and nextc <= 57 then -- back reference
      s = match_capture(ms, s, nextc)
      if not s then break end
      p = p + 2
    else
      local ep = class_end(pat, plen, p)
      local m = s <= slen and single_match(byte(src, s), pat, p, ep)
      local q = byte(pat, ep)
      if q == QUESTION then
        if m then
          result = do_match(ms, s + 1, ep + 1)
          if result then break end
        end
        p = ep + 1
      elseif q == STAR then
        result = max_expand(ms, s, p, ep)
        break
      elseif q == PLUS then
        if m then result = max_expand(ms, s + 1, p, ep) end
        break
      elseif q == DASH then
        result = min_expand(ms, s, p, ep)
        break
      else
        if not m then break end
        s = s + 1
        p = ep
      end
    end
  end
  ms.depth = depth - 1
  return result
end

local function new_state(src, pat)
  return { src = src, slen = #src, pat = pat, plen = #pat, level = 0, depth = 0, init = {}, len = {} }
end

local function one_capture(ms, i, s, e)
  if i > ms.level then
    if i ~= 1 then error("invalid capture index", 0) end
    return sub(ms.src, s, e - 1)
  end
  local len = ms.len[i]
  if len == CAP_UNFINISHED then error("unfinished capture", 0) end
  if len == CAP_POSITION then return ms.init[i] end
  return sub(ms.src, ms.init[i], ms.init[i] + len - 1)
end

-- The captures of the last match; the whole match when it has none and
-- `whole` is set.
local function captures(ms, s, e, whole)
  local n = ms.level
  if n == 0 then
    if whole then return sub(ms.src, s, e - 1) end
    return
  end
  local out = {}
  for i = 1, n do out[i] = one_capture(ms, i, s, e) end
  return unpack(out, 1, n)
end

-- ---- the string functions ----
local function check(value, position, name)
  local t = type(value)
  if t == "string" then return value end
  if t == "number" then return tostring(value) end
  error("bad argument #" .. position .. " to '" .. name .. "' (string expected, got " .. t .. ")", 3)
end

local function start_index(init, len)
  init = init or 1
  if init < 0 then init = len + init + 1 end
  if init < 1 then init = 1 end
  return init
end

local function plain_find(s, p, init)
  local slen, plen = #s, #p
  if plen == 0 then return init, init - 1 end
  local first = byte(p, 1)
  for i = init, slen - plen + 1 do
    if byte(s, i) == first and sub(s, i, i + plen - 1) == p then return i, i + plen - 1 end
  end
  return nil
end

local function find_aux(is_find, s, p, init, plain)
  s = check(s, 1, is_find and "find" or "match")
  p = check(p, 2, is_find and "find" or "match")
  init = start_index(init, #s)
  if init > #s + 1 then init = #s + 1 end
  if is_find and (plain or not c_find(p, "[%^%$%*%+%?%.%(%[%%%-]")) then
    return plain_find(s, p, init)
  end
  local ms = new_state(s, p)
  local anchor = byte(p, 1) == CARET
  local pstart = anchor and 2 or 1
  local s1 = init
  repeat
    ms.level, ms.depth = 0, 0
    local e = do_match(ms, s1, pstart)
    if e then
      if is_find then return s1, e - 1, captures(ms, nil, 0, false) end
      return captures(ms, s1, e, true)
    end
    s1 = s1 + 1
  until anchor or s1 > ms.slen + 1
  return nil
end

local M = {}

function M.find(s, p, init, plain) return find_aux(true, s, p, init, plain) end

function M.match(s, p, init) return find_aux(false, s, p, init, false) end

function M.gmatch(s, p)
  s = check(s, 1, "gmatch")
  p = check(p, 2, "gmatch")
  local pos = 1
  local ms = new_state(s, p)
  return function()
    while pos <= ms.slen + 1 do
      local src = pos
      ms.level, ms.depth = 0, 0
      local e = do_match(ms, src, 1)
      if e then
        pos = e == src and e + 1 or e
        return captures(ms, src, e, true)
      end
      pos = pos + 1
    end
    return nil
  end
end

local function add_value(ms, out, s, e, repl, kind)
  local value
  if kind == "string" then
    local parts, i, rlen = {}, 1, #repl
    while i <= rlen do
      local c = byte(repl, i)
      if c == ESC then
        i = i + 1
        local d = byte(repl, i)
        if d and d >= 48 and d <= 57 then
          if d == 48 then
            parts[#parts + 1] = sub(ms.src, s, e - 1)
          else
            parts[#parts + 1] = tostring(one_capture(ms, d - 48, s, e))
          end
        else
          -- A '%' that ends the replacement adds the C string's terminator.
          parts[#parts + 1] = d and sub(repl, i, i) or "\0"
        end
      else
        parts[#parts + 1] = sub(repl, i, i)
      end
      i = i + 1
    end
    out[#out + 1] = concat(parts)
    return
  elseif kind == "table" then
    value = repl[captures(ms, s, e, true)]
  else
    value = repl(captures(ms, s, e, true))
  end
  if value == nil or value == false then
    out[#out + 1] = sub(ms.src, s, e - 1)
  elseif type(value) == "string" or type(value) == "number" then
    out[#out + 1] = tostring(value)
  else
    error("invalid replacement value (a " .. type(value) .. ")", 0)
  end
end

function M.gsub(s, p, repl, max_n)
  s = check(s, 1, "gsub")
  p = check(p, 2, "gsub")
  local kind = type(repl)
  if kind == "number" then
    repl, kind = tostring(repl), "string"
  elseif kind ~= "string" and kind ~= "table" and kind ~= "function" then
    error("bad argument #3 to 'gsub' (string/function/table expected)", 2)
  end
  local ms = new_state(s, p)
  max_n = max_n or ms.slen + 1
  local anchor = byte(p, 1) == CARET
  local pstart = anchor and 2 or 1
  local src, n, out = 1, 0, {}
  while n < max_n do
    ms.level, ms.depth = 0, 0
    local e = do_match(ms, src, pstart)
    if e then
      n = n + 1
      add_value(ms, out, src, e, repl, kind)
    end
    if e and e > src then
      src = e
    elseif src <= ms.slen then
      out[#out + 1] = sub(s, src, src)
      src = src + 1
    else
      break
    end
    if anchor then break end
  end
  out[#out + 1] = sub(s, src)
  return concat(out), n
end

-- ---- the worst case of the C matcher ----
-- Each item of a pattern is visited at most once per way of matching the
-- items before it: a `*`, `+` or `-` item has at most n+1 ways, a `?` item
-- two, anything else one. An expansion, a %b or a back reference scans at
-- most n+1 characters per visit. Summing visits times work over the items
-- bounds the steps of one match attempt; unanchored calls try n+1 starts.
-- The items are parsed once per pattern; nil marks a pattern the C code
-- would reject, which the Lua matcher then reports.
local SHAPES, shapes_cached = {}, 0
local MAX_SHAPES = 256

local function shape_of(p)
  local shape = SHAPES[p]
  if shape ~= nil then return shape end
  local ok, kinds = pcall(function()
    local plen, i, out = #p, 1, {}
    if byte(p, 1) == CARET then i = 2 end
    while i <= plen do
      local c, nextc = byte(p, i), byte(p, i + 1)
      if c == OPEN or c == CLOSE or (c == DOLLAR and i == plen) then
        out[#out + 1] = 1
        i = i + 1
      elseif c == ESC and nextc == 98 then
        if i + 3 > plen then error("malformed") end
        out[#out + 1] = 3
        i = i + 4
      elseif c == ESC and nextc == 102 then
        if byte(p, i + 2) ~= LBRACKET then error("malformed") end
        out[#out + 1] = 1
        i = class_end(p, plen, i + 2)
      elseif c == ESC and nextc and nextc >= 48 and nextc <= 57 then
        out[#out + 1] = 3
        i = i + 2
      else
        local ep = class_end(p, plen, i)
        local q = byte(p, ep)
        if q == STAR or q == PLUS or q == DASH then
          out[#out + 1] = 2
          i = ep + 1
        elseif q == QUESTION then
          out[#out + 1] = 4
          i = ep + 1
        else
          out[#out + 1] = 1
          i = ep
        end
      end
    end
    return out
  end)
  shape = ok and kinds or false
  if shapes_cached >= MAX_SHAPES then
    SHAPES, shapes_cached = {}, 0
  end
  SHAPES[p] = shape
  shapes_cached = shapes_cached + 1
  return shape
end

-- Steps the C matcher may take for pattern `p` on `n` characters; huge for
-- a pattern it would reject. `anchored_ok`: a leading '^' anchors the call.
function M.cost(p, n, anchored_ok)
  local shape = shape_of(p)
  if not shape then return huge end
  local ways = (anchored_ok and byte(p, 1) == CARET) and 1 or n + 1
  local total, scan = 0, n + 1
  for i = 1, #shape do
    local kind = shape[i]
    if kind == 1 then
      total = total + ways
    elseif kind == 2 then
      total = total + ways * scan
      ways = ways * scan
    elseif kind == 3 then
      total = total + ways * scan
    else
      total = total + ways
      ways = ways * 2
    end
    if total > 1e15 then return huge end
  end
  return total + ways
end

-- The longest subject for which a call with pattern `p` stays within
-- `limit` steps (-1: none does). The cost grows with the subject, so it is
-- found once per pattern by bisection, and each call compares one length.
function M.max_subject(p, anchored_ok, limit)
  local cost = M.cost
  if cost(p, 0, anchored_ok) > limit then return -1 end
  local lo, hi = 0, 2147483647
  if cost(p, hi, anchored_ok) <= limit then return hi end
  while hi - lo > 1 do
    local mid = math.floor((lo + hi) / 2)
    if cost(p, mid, anchored_ok) <= limit then lo = mid else hi = mid end
  end
  return lo
end

return M

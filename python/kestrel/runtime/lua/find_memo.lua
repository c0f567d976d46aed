-- string.find for trusted (JIT-compiled) rules, answered once per distinct
-- text and pattern within a batch.
--
-- Field texts repeat: a process name or event action takes a few dozen
-- values over thousands of events, and the core hands out one Lua string
-- per distinct text. The C search runs data-dependent branches on every
-- call, which cost more than looking its earlier answer up in a table.
--
-- Only calls whose whole result is a start and an end are remembered: no
-- `init` other than 1 and, unless `plain`, a pattern without captures.
-- Anything else goes straight to the C function, so results (and the number
-- of values returned) are exactly string.find's. What is remembered is
-- bounded in entries and in text bytes, and forgotten at every batch.
--
-- Returns memoized(find) -> (find', forget).

local type = type

local MAX_ENTRIES = 4096
local MAX_TEXT_BYTES = 1048576

return function(c_find)
  -- [plain][pattern] -> {starts = {text -> start or false}, ends = {text -> end}},
  -- or false for a pattern that is not remembered (it has captures).
  local memo, entries, bytes = { [false] = {}, [true] = {} }, 0, 0

  local function forget()
    memo, entries, bytes = { [false] = {}, [true] = {} }, 0, 0
  end

  local function first(s, p, init, plain)
    if (init ~= nil and init ~= 1) or type(s) ~= "string" or type(p) ~= "string"
      or entries >= MAX_ENTRIES or bytes + #s > MAX_TEXT_BYTES then
      return c_find(s, p, init, plain)
    end
    local by_pattern = memo[not not plain]
    local m = by_pattern[p]
    if m == nil then
      -- A `(` outside plain mode may open a capture, whose values would be
      -- returned too: such patterns are never remembered.
      if not plain and c_find(p, "(", 1, true) then m = false else m = { starts = {}, ends = {} } end
      by_pattern[p], entries = m, entries + 1
    end
    if not m then return c_find(s, p, init, plain) end
    local i, j = c_find(s, p, 1, plain)
    m.starts[s], entries, bytes = i or false, entries + 1, bytes + #s
    if i == nil then return nil end
    m.ends[s] = j
    return i, j
  end

  local function find(s, p, init, plain)
    if init == nil or init == 1 then
      local m = memo[not not plain][p]
      if m then
        local i = m.starts[s]
        if i == false then return nil end
        if i then return i, m.ends[s] end
      end
    end
    return first(s, p, init, plain)
  end

  return find, forget
end

"""A Lua function that runs one call through LuaJIT's C string library and
through a Lua replacement, and says whether they agree.

``compare(M, fname, ...)`` calls ``string[fname](...)`` and ``M[fname](...)``
(for gmatch, collecting up to 65 iterations) and returns ``(agree, c, ours)``,
each side rendered as ``ok count type:value ...``. Both raising counts as
agreement: the messages are worded differently.
"""

COMPARE = """
function(M, fname, ...)
  local args, nargs = {...}, select('#', ...)
  local function collect(ok, ...)
    local out = {tostring(ok), tostring(select('#', ...))}
    for i = 1, select('#', ...) do
      local v = select(i, ...)
      out[#out + 1] = type(v) .. ':' .. tostring(v)
    end
    return table.concat(out, ' ')
  end
  local function run(f)
    if fname == 'gmatch' then
      return collect(pcall(function()
        local out = {}
        for a, b in f(args[1], args[2]) do
          out[#out + 1] = tostring(a) .. '|' .. tostring(b)
          if #out > 64 then break end
        end
        return table.concat(out, ',')
      end))
    end
    return collect(pcall(f, unpack(args, 1, nargs)))
  end
  local c, l = run(string[fname]), run(M[fname])
  -- Both raising is agreement: the messages are worded differently.
  if c:sub(1, 5) == 'false' and l:sub(1, 5) == 'false' then return true, c, l end
  return c == l, c, l
end
"""

-- pred_init
function pred_init()
    return 0
end

-- pred_eval
function pred_eval(event)
    -- Get process PID
    local pid = kestrel.event_get_i64(event, 1)

    -- Get process name
    local name = kestrel.event_get_str(event, 2)

    -- Check conditions
    if pid > 1000 and string.find(name, "suspicious") then
        kestrel.alert_emit(event)
        return true
    end

    return false
end

-- pred_capture (optional)
function pred_capture(event)
    return {
        pid = kestrel.event_get_i64(event, 1),
        name = kestrel.event_get_str(event, 2)
    }
end

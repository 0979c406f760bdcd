-- Argo CD health of a Nimbus ContainerTask (compute.nimbus.dev/v1alpha1).
-- Healthy: Ready is True for the current generation (every task running, or the run complete
-- with every essential container exited 0). Degraded: Ready is False with a terminal reason
-- (TaskFailed, TaskFailedToStart, InvalidReference). Progressing otherwise.
local terminal = { TaskFailed = true, TaskFailedToStart = true, InvalidReference = true }
local hs = { status = "Progressing", message = "Waiting for the tasks" }
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local generation = obj.metadata.generation or 0
if (obj.status.observedGeneration or 0) < generation then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    if condition.status == "True" then
      hs.status = "Healthy"
    elseif terminal[condition.reason] then
      hs.status = "Degraded"
    end
    hs.message = condition.message or condition.reason or ""
  end
end
return hs

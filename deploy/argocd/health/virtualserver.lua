-- Argo CD health of a Nimbus VirtualServer (compute.nimbus.dev/v1alpha1).
-- Suspended: spec.running is false (stopped, as EC2 StopInstances). Healthy: Ready is True for
-- the current generation. Degraded: Ready is False with a terminal reason (InvalidReference,
-- KubeVirtUnavailable, Unschedulable). Progressing otherwise.
local terminal = { InvalidReference = true, KubeVirtUnavailable = true, Unschedulable = true }
local hs = { status = "Progressing", message = "Waiting for the instances" }
if obj.spec ~= nil and obj.spec.running == false then
  hs.status = "Suspended"
  hs.message = "Stopped (spec.running is false)"
  return hs
end
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

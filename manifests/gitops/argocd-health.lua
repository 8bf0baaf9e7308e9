-- Argo CD health of a TechSapo, for argocd-cm:
--   resource.customizations.health.techsapo.io_TechSapo: |
--     <this file>
-- Suspended: paused by annotation, or a change waits for an admin's approval.
-- Progressing: the operator has not observed the latest generation yet, or components are coming up.
-- Degraded: Stalled (an invalid spec, a denied change, a failing apply).
-- Healthy: Ready at the latest generation.
local hs = {}
local annotations = obj.metadata.annotations or {}
if annotations["techsapo.io/reconcile"] == "disabled" then
  hs.status = "Suspended"
  hs.message = "reconciliation paused (techsapo.io/reconcile=disabled)"
  return hs
end
local status = obj.status or {}
if status.observedGeneration == nil or status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to observe generation " .. tostring(obj.metadata.generation)
  return hs
end
local conditions = {}
for _, condition in ipairs(status.conditions or {}) do
  conditions[condition.type] = condition
end
local pending = conditions["ApprovalPending"]
if pending ~= nil and pending.status == "True" then
  hs.status = "Suspended"
  hs.message = pending.message
  return hs
end
local stalled = conditions["Stalled"]
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
  return hs
end
local ready = conditions["Ready"]
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end
hs.status = "Progressing"
hs.message = (ready ~= nil and ready.message) or "waiting for the operator's first status"
return hs

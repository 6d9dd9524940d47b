#include "server/service_directory.h"

namespace allot::server {

void ServiceDirectory::Publish(std::map<std::string, ServiceRoute> routes) {
  std::vector<std::function<void()>> listeners;
  {
    std::lock_guard lock(mutex_);
    bool changed = routes.size() != routes_.size();
    std::map<std::string, std::shared_ptr<const ServiceRoute>> next;
    for (auto& [name, route] : routes) {
      auto old = routes_.find(name);
      if (old != routes_.end() && *old->second == route) {
        next[name] = old->second;
        continue;
      }
      changed = true;
      next[name] = std::make_shared<const ServiceRoute>(std::move(route));
    }
    if (!changed) return;
    routes_ = std::move(next);
    listeners = listeners_;
  }
  for (const auto& listener : listeners) listener();
}

std::shared_ptr<const ServiceRoute> ServiceDirectory::Find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto found = routes_.find(name);
  return found == routes_.end() ? nullptr : found->second;
}

void ServiceDirectory::OnChange(std::function<void()> listener) {
  std::lock_guard lock(mutex_);
  listeners_.push_back(std::move(listener));
}

}  // namespace allot::server

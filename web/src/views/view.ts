import type { ClusterModel } from "../model";

// One section of the page. Controls are built once by mount() so that
// focus and filters survive the live updates, which call update().
export interface View {
  // Builds the section's controls and data regions into `container`.
  mount(container: HTMLElement, model: ClusterModel): void;
  // Shows the model's current state.
  update(model: ClusterModel): void;
}

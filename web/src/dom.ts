// A small element builder: text goes in as text nodes, never as HTML, so
// names from the API cannot inject markup.
export type Child = Node | string | number | null | undefined | false | Child[];

export function h(
  tag: string,
  attrs: Record<string, string | number | boolean | EventListener | undefined> = {},
  ...children: Child[]
): HTMLElement {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") {
      element.addEventListener(key.replace(/^on/, ""), value);
    } else if (value === true) {
      element.setAttribute(key, "");
    } else {
      element.setAttribute(key, String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) {
      append(parent, child);
    } else if (child instanceof Node) {
      parent.appendChild(child);
    } else {
      parent.appendChild(document.createTextNode(String(child)));
    }
  }
}

// Replaces the children of `parent`.
export function fill(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

// A table with a caption, column headers and rows of cells.
export function table(caption: string, headers: string[], rows: Child[][]): HTMLElement {
  return h(
    "table",
    {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
    h(
      "tbody",
      {},
      rows.length === 0
        ? h("tr", {}, h("td", { colspan: headers.length, class: "empty" }, "none"))
        : rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell)))),
    ),
  );
}

// A <label> with its control, tied by id.
export function labelled(text: string, control: HTMLElement): HTMLElement {
  if (!control.id) control.id = `control-${text.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return h("span", { class: "field" }, h("label", { for: control.id }, text), control);
}

export function select(id: string, options: string[], value: string, onChange: (v: string) => void) {
  const element = h(
    "select",
    { id },
    options.map((option) =>
      h("option", { value: option, selected: option === value }, option === "" ? "all" : option),
    ),
  ) as HTMLSelectElement;
  element.addEventListener("change", () => onChange(element.value));
  return element;
}

import "./style.css";
import { tauriBackend } from "./api";
import { Dashboard } from "./app";

const root = document.getElementById("app")!;
tauriBackend()
  .then((b) => new Dashboard(root, b).start())
  .catch((e) => {
    root.textContent = `Lakepass could not reach its app process: ${e}`;
  });

/** Placeholder: the Tasks page is written next. */
export function TasksPage() {
  return (
    <section className="panel" aria-labelledby="tasks-title">
      <h2 id="tasks-title">Tasks</h2>
    </section>
  );
}

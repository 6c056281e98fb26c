/** Placeholder: the Recipes page is written next. */
export function RecipesPage() {
  return (
    <section className="panel" aria-labelledby="recipes-title">
      <h2 id="recipes-title">Recipes</h2>
    </section>
  );
}

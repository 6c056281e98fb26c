import { useEffect, type ReactElement } from 'react';
import { useStudio } from '../state/store.ts';
import { ErrorNotice } from './components/ErrorNotice.tsx';
import { SchemaNotice } from './components/SchemaNotice.tsx';
import { EvaluatePage } from './pages/EvaluatePage.tsx';
import { ExperimentsPage } from './pages/ExperimentsPage.tsx';
import { LibraryPage } from './pages/LibraryPage.tsx';
import { MixturePage } from './pages/MixturePage.tsx';
import { ModelPage } from './pages/ModelPage.tsx';
import { PlaygroundPage } from './pages/PlaygroundPage.tsx';
import { RecipesPage } from './pages/RecipesPage.tsx';
import { RouterPage } from './pages/RouterPage.tsx';
import { StartPage } from './pages/StartPage.tsx';
import { TasksPage } from './pages/TasksPage.tsx';
import { TrainPage } from './pages/TrainPage.tsx';
import { hrefFor, PAGES, useRoute, type PageId } from './routes.ts';

const PAGE_COMPONENTS: Record<PageId, () => ReactElement> = {
  start: StartPage,
  model: ModelPage,
  tasks: TasksPage,
  mixture: MixturePage,
  train: TrainPage,
  evaluate: EvaluatePage,
  experiments: ExperimentsPage,
  router: RouterPage,
  playground: PlaygroundPage,
  library: LibraryPage,
  recipes: RecipesPage,
};

export function App() {
  const engine = useStudio((state) => state.engineStatus);
  const route = useRoute();
  const Page = PAGE_COMPONENTS[route.page];

  useEffect(() => {
    void useStudio.getState().loadGpuInfo();
    void useStudio.getState().refreshStorage();
    void useStudio.getState().restoreModel();
  }, []);

  useEffect(() => {
    const title = PAGES.find((p) => p.id === route.page)!.label;
    document.title = route.page === 'start' ? 'Cocktail Studio' : `${title} · Cocktail Studio`;
  }, [route.page]);

  return (
    <div className="app">
      <header className="app-header">
        <h1>
          <img src="/favicon.svg" alt="" width={28} height={28} /> Cocktail Studio
        </h1>
        <p className="tagline">Multi-task LoRA fine-tuning in your browser, on your own GPU.</p>
        <nav aria-label="Studio" className="app-nav">
          <ul>
            {PAGES.map((page) => (
              <li key={page.id}>
                <a href={hrefFor(page.id)} aria-current={page.id === route.page ? 'page' : undefined}>
                  {page.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main>
        <SchemaNotice />
        {engine.status === 'dead' && engine.error && <ErrorNotice error={engine.error} title="The engine stopped" />}
        <Page />
      </main>
    </div>
  );
}

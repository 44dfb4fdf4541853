/**
 * Sentiment reward model for a labelled corpus (the demo's generated reviews) trained by the kit's
 * own reward-model code: KitRewardModel (hashed uni+bigram features -> linear layer) fitted by
 * lib/rewards/fit.ts with the IMDB recipe's hyperparameters (DEFAULT_HYPER.imdb), only the
 * hash width is smaller because the vocabulary is a few hundred words.
 *
 * The reward is the raw log-odds z of "positive" (calibration identity): the same kind of number
 * as distilbert-imdb's POSITIVE logit the paper uses, with no reference model to calibrate to.
 */
import { featurize } from '../rewards/features';
import { fitKitModel } from '../rewards/fit';
import { DEFAULT_HYPER, type TrainHyper } from '../rewards/train';
import { KIT_FORMAT, KitRewardModel, type KitRewardConfig } from '../rewards/trained';
import { accuracy } from '../rewards/stats';

export interface LabelledText { text: string; label: 0 | 1 }

export async function trainSentimentReward(
  train: readonly LabelledText[],
  test: readonly LabelledText[],
  o: { epochs?: number; seed: number; hashBits?: number; log?: (m: string) => void },
): Promise<{ model: KitRewardModel; testAccuracy: number; seconds: number }> {
  const h: TrainHyper = { ...DEFAULT_HYPER.imdb, hashBits: o.hashBits ?? 14, epochs: o.epochs ?? DEFAULT_HYPER.imdb.epochs, seed: o.seed };
  const config: KitRewardConfig = {
    format: KIT_FORMAT, version: 1, name: 'kit-demo-sentiment', task: 'imdb',
    features: { hashBits: h.hashBits, ngrams: h.ngrams },
    calibration: { scale: 1, shift: 0, method: 'identity (raw log-odds of positive)' },
    rewardScale: 'log-odds that the review is positive (demo corpus labels)',
  };
  const model = await KitRewardModel.create(config);
  const examples = train.map((r) => ({ row: featurize(r.text, config.features), y: r.label }));
  const testTexts = test.map((r) => r.text);
  const testLabels = test.map((r) => r.label);
  const fit = await fitKitModel(model, examples, {
    ...h, log: o.log,
    afterEpoch: async () => `test acc ${accuracy(await model.rawScores(testTexts), testLabels).toFixed(4)}`,
  });
  const testAccuracy = accuracy(await model.rawScores(testTexts), testLabels);
  model.config.training = { ...h, trainRows: train.length, seconds: fit.seconds, steps: fit.steps, epochLoss: fit.epochLoss };
  model.config.metrics = { testAccuracy, testRows: test.length };
  return { model, testAccuracy, seconds: fit.seconds };
}
